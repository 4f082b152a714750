"""Events tests: each Hub and publisher gets its own Redis connection, standing in for one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from app.common.ids import uuid7
from app.events import Publisher
from app.events.hub import Hub
from app.settings import Settings
from app.stores.redis import make_client
from app.tasks.events import TASK_EVENTS
from tests.support.runtime import ensure_runtime, remove_runtime
from tests.cache.conftest import make_cache  # noqa: F401 - fixture
from tests.cache.helpers import private_redis, redis_client  # noqa: F401 - fixtures

MakeHub = Callable[..., Any]


@pytest.fixture
async def make_hub(settings: Settings) -> AsyncIterator[MakeHub]:
    """Started hubs on the test Redis (or on `redis_url`), each with a unique connection name; closed at the end."""
    made: list[Hub] = []

    async def make(redis_url: str | None = None, **options: Any) -> Hub:
        options.setdefault("timeout_s", settings.redis_timeout_s)
        options.setdefault("cluster", settings.redis_cluster and not redis_url)  # a private Redis is one node
        hub = Hub(redis_url or settings.redis_url, name=f"test-hub-{uuid7().hex[-12:]}", **options)
        made.append(hub)
        await hub.start()
        return hub

    yield make
    for hub in made:
        await hub.close()


@pytest.fixture
async def make_publisher(settings: Settings) -> AsyncIterator[Callable[..., Publisher]]:
    """Task publishers with their own client (on the test Redis or `redis_url`)."""
    clients = []

    def make(redis_url: str | None = None, origin: str = "instance-a", timeout_s: float | None = None) -> Publisher:
        private = {"redis_url": redis_url, "redis_cluster": False} if redis_url else {}  # a private Redis: one node
        client = make_client(settings.model_copy(update=private))
        clients.append(client)
        return Publisher(client, (TASK_EVENTS,), timeout_s=timeout_s or settings.redis_timeout_s, origin=origin)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture(autouse=True)
async def without_global_runtime(settings: Settings) -> AsyncIterator[None]:
    """These tests build their own caches, hubs and publishers: the process-wide ones would listen too."""
    await remove_runtime()
    yield
    await ensure_runtime(settings)
