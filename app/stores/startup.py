"""Open every store in order at start-up, retrying with backoff for a bounded time; close in reverse."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

from app.settings import Settings, mask_url
from app.stores import mongo, postgres, redis

log = logging.getLogger("taskboard.stores")


class StoreUnavailable(RuntimeError):
    """A store did not answer within the start-up time budget."""


@dataclass(frozen=True)
class Store:
    name: str
    url: str
    connect: Callable[[Settings], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


def stores(settings: Settings, documents: mongo.Documents) -> list[Store]:
    """The stores in the order they are opened (MongoDB registering `documents`)."""
    return [
        Store("postgres", settings.database_url, postgres.connect, postgres.close),
        Store("mongodb", settings.mongodb_url, partial(mongo.connect, documents=documents), mongo.close),
        Store("redis", settings.redis_url, redis.connect, redis.close),
    ]


async def connect_with_retry(store: Store, settings: Settings) -> None:
    """Connect, retrying with exponential backoff until STARTUP_TIMEOUT_S has passed."""
    deadline = time.monotonic() + settings.startup_timeout_s
    delay = 0.1
    attempt = 0
    while True:
        attempt += 1
        try:
            await asyncio.wait_for(store.connect(settings), timeout=max(settings.health_timeout_s * 5, 1.0))
            return
        except Exception as exc:  # noqa: BLE001 - every failure is retried until the deadline
            remaining = deadline - time.monotonic()
            reason = f"{type(exc).__name__}: {exc}".strip()
            if remaining <= 0:
                raise StoreUnavailable(
                    f"{store.name} unreachable at {mask_url(store.url)} after {attempt} attempt(s) "
                    f"in {settings.startup_timeout_s:.0f}s: {reason}"
                ) from exc
            log.warning("%s not ready at %s (%s); retrying", store.name, mask_url(store.url), reason)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)


@asynccontextmanager
async def open_stores(settings: Settings, documents: mongo.Documents) -> AsyncIterator[None]:
    """Open PostgreSQL, MongoDB (registering `documents`) and Redis in that order; close them in reverse, even
    on failure."""
    opened: list[Store] = []
    try:
        for store in stores(settings, documents):
            await connect_with_retry(store, settings)
            opened.append(store)
            log.info("%s connected at %s", store.name, mask_url(store.url))
        yield
    finally:
        for store in reversed(opened):
            try:
                await store.close()
            except Exception:  # noqa: BLE001 - closing the others matters more
                log.exception("closing %s failed", store.name)
