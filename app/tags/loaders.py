"""The relations the tags domain serves (loader specs for the per-request registry) and the cached tag list.

Batch functions read through the cache and return results in key order, one query per batch for whatever
the cache did not have.
"""

from __future__ import annotations

from collections.abc import Sequence

from app import cache
from app.cache.codec import typed
from app.graphql.loaders import LoaderSpec
from app.tags import keys, service
from app.tags.service import TagRow, TagWithCount

_TAGS = typed(list[TagRow])
_TAG = typed(TagRow | None)
_LIST = typed(list[TagWithCount])


async def tags_by_task_id(task_ids: Sequence[str]) -> list[list[TagRow]]:
    """Tags of each task, by name."""
    return await cache.current().get_many(
        task_ids, keys.task_tags, lambda missing: service.tags_by_task_ids(task_ids=missing), _TAGS
    )


async def tag_by_id(ids: Sequence[str]) -> list[TagRow | None]:
    """Tags by id."""
    return await cache.current().get_many(ids, keys.tag, lambda missing: service.get_tags_by_ids(ids=missing), _TAG)


TAGS_BY_TASK_ID: LoaderSpec[str, list[TagRow]] = LoaderSpec("tags_by_task_id", tags_by_task_id)
TAG_BY_ID: LoaderSpec[str, TagRow | None] = LoaderSpec("tag_by_id", tag_by_id)


async def tag_list() -> list[TagWithCount]:
    """Every tag with its live task count."""
    return await cache.current().get(keys.tag_list(), service.list_tags, _LIST)
