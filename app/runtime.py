"""What a running process needs beyond the stores: the resolver cache and task events, in the right order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app import cache, events
from app.settings import Settings
from app.stores import redis
from app.stores.startup import open_stores


@asynccontextmanager
async def running(settings: Settings, *, listen_for_events: bool = True) -> AsyncIterator[None]:
    """Open the stores, then install the cache and the event publisher (and hub); undo in reverse.

    The cache is installed first: its change listener must invalidate before the publisher tells
    subscribers, who then re-read fresh data. Commands (seed, data-migrate) publish without listening.
    """
    async with open_stores(settings):
        await cache.install(settings, redis.client())
        await events.install(settings, redis.client(), listen=listen_for_events)
        try:
            yield
        finally:
            await events.uninstall()
            await cache.uninstall()
