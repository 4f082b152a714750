"""What a running process needs beyond the stores: the resolver cache and task events, in the right order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app import cache, events
from app.settings import Settings
from app.stores import redis
from app.stores.mongo import Documents
from app.stores.startup import open_stores


@dataclass(frozen=True)
class Parts:
    """What the runtime takes from the domains (app.schema, the one module that imports them, names them):
    the Beanie documents MongoDB registers, and the event streams every process publishes."""

    documents: Documents
    streams: Sequence[events.Stream]


@asynccontextmanager
async def running(settings: Settings, parts: Parts, *, listen_for_events: bool = True) -> AsyncIterator[None]:
    """Open the stores, then install the cache and the event publisher (and hub); undo in reverse.

    The cache is installed first: its change listener must invalidate before the publisher tells
    subscribers, who then re-read fresh data. Commands (seed, data-migrate) publish without listening.
    """
    async with open_stores(settings, parts.documents):
        await cache.install(settings, redis.client())
        await events.install(settings, redis.client(), streams=parts.streams, listen=listen_for_events)
        try:
            yield
        finally:
            await events.uninstall()
            await cache.uninstall()
