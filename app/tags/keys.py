"""Cache keys for tags (the only place they are built)."""

from __future__ import annotations

from functools import lru_cache

from app.cache.keys import CacheKey, KEYS_MEMO, collection, collection_stamp, over_partitions, row
from app.common.changes import TASK_LINKS, TASK_MEMBERS, TASK_ROWS, TASK_TAGS_PART, Entity
from app.common.ids import canonical_uuid


def tag(tag_id: str) -> CacheKey:
    """One tag row."""
    return row(Entity.TAG, canonical_uuid(tag_id))


@lru_cache(maxsize=KEYS_MEMO)
def task_tags(task_id: str) -> CacheKey:
    """The tags of one task: a part of the task's entry (its links change with the task's TAGS_CHANGED), also
    stamped by the tag collection (a renamed or recoloured tag changes what it holds)."""
    return row(Entity.TASK, canonical_uuid(task_id), part=TASK_TAGS_PART, also=(collection_stamp(Entity.TAG),))


def tag_list(params: object = None) -> CacheKey:
    """The list of every tag; it carries live-task counts, so it follows tasks entering or leaving the task
    lists (created, deleted, restored) and changes of tag links; an update of a task's fields keeps it."""
    rows = TASK_ROWS[1]
    tasks = over_partitions(Entity.TASK, [(TASK_MEMBERS + TASK_ROWS[0], rows), (TASK_LINKS + TASK_ROWS[0], rows)])
    return collection(Entity.TAG, "list", params, also=tasks)
