"""install/uninstall: the process-wide cache listens to committed changes only while installed."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from app import cache
from app.common.changes import dispatch
from app.settings import Settings
from app.tasks import keys
from tests.cache.helpers import CountingLoader, new_id, task_changed


async def test_an_installed_cache_invalidates_on_dispatch_and_stops_after_uninstall(
    settings: Settings, redis_client: Redis
) -> None:
    installed = await cache.install(settings, redis_client)
    try:
        assert cache.current() is installed
        task_id = new_id()
        key = keys.task(task_id)
        await installed.get(key, CountingLoader("old"))

        await dispatch([task_changed(task_id)])

        assert await installed.get(key, CountingLoader("new")) == "new"
        assert cache.stats()["invalidations"] == 1
    finally:
        await cache.uninstall()

    assert cache.stats() == {}
    with pytest.raises(RuntimeError):
        cache.current()
    await dispatch([task_changed(new_id())])  # no listener left: nothing to fail
    assert installed.stats()["invalidations"] == 1


async def test_settings_shape_the_installed_cache(settings: Settings, redis_client: Redis) -> None:
    tuned = settings.model_copy(update={"cache_ttl_s": 42, "cache_enabled": False})
    installed = await cache.install(tuned, redis_client)
    try:
        assert (installed.ttl_s, installed.enabled) == (42, False)
        assert cache.stats()["enabled"] is False
    finally:
        await cache.uninstall()
