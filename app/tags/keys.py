"""Cache keys for tags (the only place they are built)."""

from __future__ import annotations

from app.cache.keys import CacheKey, collection, collection_stamp, row
from app.common.changes import Entity
from app.common.ids import canonical_uuid


def tag(tag_id: str) -> CacheKey:
    """One tag row."""
    return row(Entity.TAG, canonical_uuid(tag_id))


def task_tags(task_id: str) -> CacheKey:
    """The tags of one task: a part of the task's entry (its links change with the task's TAGS_CHANGED), also
    stamped by the tag collection (a renamed or recoloured tag changes what it holds)."""
    return row(Entity.TASK, canonical_uuid(task_id), part="tags", also=(collection_stamp(Entity.TAG),))


def tag_list(params: object = None) -> CacheKey:
    """The list of every tag; it carries live-task counts, so task writes invalidate it too."""
    return collection(Entity.TAG, "list", params, also=(collection_stamp(Entity.TASK),))
