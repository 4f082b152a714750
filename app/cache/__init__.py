"""Read-through resolver cache in Redis with exact invalidation.

Use from resolvers and DataLoaders through the process-wide instance:

    from app import cache
    from app.cache.codec import typed
    from app.tasks import keys

    TASK = typed(TaskRow | None)
    row = await cache.current().get(keys.task(task_id), lambda: service.get_task(task_id=task_id), TASK)
    rows = await cache.current().get_many(ids, keys.task, lambda missing: service.get_tasks_by_ids(ids=missing), TASK)

The app lifespan calls `install` after the stores are open and `uninstall` before they close.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from app.cache import reads
from app.cache.codec import JSON, Codec, typed
from app.cache.core import Cache
from app.cache.keys import CacheKey
from app.common import changes
from app.settings import Settings

__all__ = ["JSON", "Cache", "CacheKey", "Codec", "current", "install", "stats", "typed", "uninstall"]

_cache: Cache | None = None


async def install(settings: Settings, redis: Redis) -> Cache:
    """Create the process-wide cache and listen for committed changes (invalidation runs even when disabled)."""
    global _cache
    await uninstall()
    _cache = Cache.from_settings(settings, redis)
    reads.watch_stores()
    changes.add_listener(_cache.invalidate)
    return _cache


async def uninstall() -> None:
    """Stop listening and stop the recovery probe."""
    global _cache
    if _cache is None:
        return
    changes.remove_listener(_cache.invalidate)
    await _cache.close()
    _cache = None


def current() -> Cache:
    """The installed cache."""
    if _cache is None:
        raise RuntimeError("the cache is not installed (app.cache.install runs in the app lifespan)")
    return _cache


def stats() -> dict[str, Any]:
    """The installed cache's counters (empty when not installed), for a /metrics endpoint."""
    return _cache.stats() if _cache is not None else {}
