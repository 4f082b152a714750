"""Cache tests: each Cache gets its own Redis client (its own pool), standing in for one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from app.cache import Cache
from app.settings import Settings
from app.stores.redis import make_client
from tests.support.runtime import ensure_runtime, remove_runtime
from tests.cache.helpers import private_redis, redis_client  # noqa: F401 - fixtures

MakeCache = Callable[..., Cache]


@pytest.fixture
async def make_cache(settings: Settings) -> AsyncIterator[MakeCache]:
    """Build caches on the test Redis (or on `redis_url`); all closed at the end of the test."""
    made: list[tuple[Cache, Redis]] = []

    def make(redis_url: str | None = None, *, socket_timeout_s: float | None = None, **options: object) -> Cache:
        # A private Redis (redis_url) is one node, also in the cluster lane.
        update: dict[str, object] = {"redis_url": redis_url} if redis_url else {}
        if redis_url:
            update["redis_cluster"] = False
        if socket_timeout_s is not None:  # redis-py's own time-outs (the cache's are `timeout_s`)
            update["redis_timeout_s"] = socket_timeout_s
        client = make_client(settings.model_copy(update=update))
        options.setdefault("timeout_s", settings.redis_timeout_s)
        cache = Cache(client, **options)  # type: ignore[arg-type]
        made.append((cache, client))
        return cache

    yield make
    for cache, client in made:
        await cache.close()
        await client.aclose()


@pytest.fixture(autouse=True)
async def without_global_runtime(settings: Settings) -> AsyncIterator[None]:
    """These tests build their own caches, hubs and publishers: the process-wide ones would listen too."""
    await remove_runtime()
    yield
    await ensure_runtime(settings)
