"""Where an operation's reads may go, and what its actor wrote last (read-your-writes across instances).

The GraphQL executor runs every operation under a `Route`: who runs it (the principal's actor id) and
whether its reads may lag (a query operation; mutations and subscription events read the primary). The
stores consult it: PostgreSQL reads may go to a replica (app.stores.replicas), user lists to a MongoDB
secondary (app.stores.mongo). Outside any operation (commands, health checks, start-up) there is no route
and every read goes to the primary.

After a write commits, the store records in Redis how far it went for its actor (the WAL position after a
PostgreSQL commit; a mark after a MongoDB write), with a TTL a replica needs at most to catch up; a read of
that actor asks for those records once per operation and reads the primary until a replica has them.
Redis failing to answer means "unknown": the read goes to the primary.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.stores import keys, redis

log = logging.getLogger("taskboard.stores")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OwnWrites:
    """What an actor wrote recently enough that a replica may not have it yet."""

    wal: int = 0  # the WAL position after its last PostgreSQL commit (0: none within the TTL)
    documents: bool = False  # a MongoDB write within the TTL


NONE_RECENT = OwnWrites()


@dataclass(eq=False, slots=True)
class Route:
    """One operation's read route."""

    actor: str | None
    may_lag: bool
    _own: asyncio.Future[OwnWrites | None] | None = field(default=None, repr=False)


_route: ContextVar[Route | None] = ContextVar("taskboard_read_route", default=None)

WAL = "replicas"
DOCUMENTS = "mongodb"


@dataclass
class _Config:
    # The stores that route reads ("replicas", "mongodb"): while any does, the executor sets routes.
    routers: set[str] = field(default_factory=set)
    wal_ttl_ms: int = 10_000
    documents_ttl_ms: int = 10_000
    warned_at: float = 0.0


_config = _Config()


def enable(router: str, *, ttl_s: float) -> None:
    """A store routes reads from now on; its writes' records live `ttl_s` (how long it may take a replica)."""
    _config.routers.add(router)
    ttl_ms = max(1, math.ceil(ttl_s * 1000))
    if router == WAL:
        _config.wal_ttl_ms = ttl_ms
    else:
        _config.documents_ttl_ms = ttl_ms


def disable(router: str) -> None:
    """The store closed."""
    _config.routers.discard(router)


def active() -> bool:
    """Whether any store routes reads (else operations need no route at all)."""
    return bool(_config.routers)


def current() -> Route | None:
    """The route of the running operation; None outside one."""
    return _route.get()


def run(route: Route, call: Any) -> Any:
    """`call()` under `route`; an awaitable result is awaited under it too (graphql-core returns one for an
    operation whose resolvers are async)."""
    token = _route.set(route)
    try:
        result = call()
    finally:
        _route.reset(token)
    if isinstance(result, Awaitable):
        return _within(route, result)
    return result


async def _within(route: Route, awaitable: Awaitable[T]) -> T:
    token: Token[Route | None] = _route.set(route)
    try:
        return await awaitable
    finally:
        _route.reset(token)


# ------------------------------------------------------------------------------------------- reads


async def own_writes(route: Route) -> OwnWrites | None:
    """The route's actor's recent writes, asked of Redis once per operation; None when Redis did not answer."""
    if route.actor is None:
        return NONE_RECENT
    if route._own is None:
        route._own = asyncio.ensure_future(_fetch_own(route.actor))
    return await asyncio.shield(route._own)


async def _fetch_own(actor: str) -> OwnWrites | None:
    try:
        pipe = redis.client().pipeline(transaction=False)
        pipe.get(keys.wal_written_by(actor))
        pipe.get(keys.documents_written_by(actor))
        wal, documents = await pipe.execute()
    except Exception as exc:  # noqa: BLE001 - unknown: the caller reads the primary
        _warn("reading the caller's last write positions failed", exc)
        return None
    return OwnWrites(wal=int(wal) if wal else 0, documents=documents is not None)


async def written_everywhere() -> int | None:
    """The highest WAL position recorded after any commit (0: none recorded); None when Redis did not answer."""
    try:
        score = await redis.client().zscore(keys.wal_written(), "wal")
    except Exception as exc:  # noqa: BLE001
        _warn("reading the last write position failed", exc)
        return None
    return 0 if score is None else int(score)


# ------------------------------------------------------------------------------------------ writes


async def record_wal(position: int) -> None:
    """After a PostgreSQL commit: the WAL position for the running operation's actor and for everyone.

    One round trip (a pipeline of two independent commands). A failure is logged: the write stands, and
    reads fall back to the primary while Redis does not answer.
    """
    route = _route.get()
    try:
        pipe = redis.client().pipeline(transaction=False)
        if route is not None and route.actor is not None:
            pipe.set(keys.wal_written_by(route.actor), str(position), px=_config.wal_ttl_ms)
        # Scores are doubles: exact for positions below 2^53 bytes of WAL (9 PB written since initdb).
        pipe.zadd(keys.wal_written(), {"wal": position}, gt=True)
        await pipe.execute()
    except Exception as exc:  # noqa: BLE001
        _warn("recording a write's WAL position failed", exc)


async def record_documents() -> None:
    """After a MongoDB write: mark the running operation's actor as having written (its reads use the primary)."""
    route = _route.get()
    if route is None or route.actor is None:
        return
    try:
        await redis.client().set(keys.documents_written_by(route.actor), b"1", px=_config.documents_ttl_ms)
    except Exception as exc:  # noqa: BLE001
        _warn("recording a MongoDB write failed", exc)


def _warn(what: str, exc: BaseException) -> None:
    now = time.monotonic()
    if now - _config.warned_at >= 10.0:
        _config.warned_at = now
        log.warning("read routing: %s (%s: %s)", what, type(exc).__name__, exc)
