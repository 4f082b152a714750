"""Read paths for tag resolvers: DataLoader batch functions and the cached tag list."""

from __future__ import annotations

from collections.abc import Sequence

from app import cache
from app.cache.codec import typed
from app.tags import keys, service
from app.tags.service import TagRow, TagWithCount
from app.tasks import keys as task_keys

_TAGS = typed(list[TagRow])
_TAG = typed(TagRow | None)
_LIST = typed(list[TagWithCount])


async def tags_by_task_id(task_ids: Sequence[str]) -> list[list[TagRow]]:
    """Tags of each task, by name."""
    return await cache.current().get_many(
        task_ids, task_keys.task_tags, lambda missing: service.tags_by_task_ids(task_ids=missing), _TAGS
    )


async def tag_by_id(ids: Sequence[str]) -> list[TagRow | None]:
    """Tags by id."""
    return await cache.current().get_many(ids, keys.tag, lambda missing: service.get_tags_by_ids(ids=missing), _TAG)


async def tag_list() -> list[TagWithCount]:
    """Every tag with its live task count."""
    return await cache.current().get(keys.tag_list(), service.list_tags, _LIST)
