"""The one place that tells a store outage from a bug: which store a driver exception says is down or too slow.

A client sees an outage as SERVICE_UNAVAILABLE naming the store (retryable), never as INTERNAL, and never with
the driver's text (it names hosts and ports): that goes to the log, once per failure.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import asyncpg
import pymongo.errors
import redis.exceptions
from tortoise.exceptions import DBConnectionError

from app.common.errors import ServiceUnavailable

log = logging.getLogger("taskboard.stores")

Store = Literal["postgres", "mongodb", "redis"]
Reason = Literal["timeout", "unreachable"]

# Driver exceptions that can only mean the store is down, refusing, shutting down or too slow.
_POSTGRES_ERRORS = (
    asyncpg.PostgresConnectionError,  # 08xxx, and the connection dropping mid-operation
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, starting up, statement cancelled (57xxx)
    asyncpg.exceptions.TooManyConnectionsError,
    DBConnectionError,
)
_POSTGRES_TIMEOUTS = (asyncpg.QueryCanceledError,)
_MONGO_ERRORS = (pymongo.errors.ConnectionFailure,)  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
_MONGO_TIMEOUTS = (pymongo.errors.NetworkTimeout,)
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_REDIS_TIMEOUTS = (redis.exceptions.TimeoutError,)

# Plain OSError/TimeoutError (connection refused, asyncpg's command time-out) names no store: the driver
# whose code raised it does.
_DRIVER_MODULES: tuple[tuple[str, Store], ...] = (
    ("asyncpg", "postgres"), ("tortoise", "postgres"), ("pymongo", "mongodb"), ("beanie", "mongodb"),
    ("redis", "redis"),
)
_CONVERTED = "taskboard_service_unavailable"


@dataclass(frozen=True)
class Outage:
    store: Store
    reason: Reason


def _raised_by(error: BaseException) -> Store | None:
    """The store whose driver code the exception was raised in (its innermost driver frame)."""
    found: Store | None = None
    for frame, _ in traceback.walk_tb(error.__traceback__):
        module = frame.f_globals.get("__name__", "")
        for prefix, store in _DRIVER_MODULES:
            if module == prefix or module.startswith(prefix + "."):
                found = store
                break
    return found


def _one(error: BaseException) -> Outage | None:
    if isinstance(error, _POSTGRES_ERRORS):
        return Outage("postgres", "timeout" if isinstance(error, _POSTGRES_TIMEOUTS) else "unreachable")
    if isinstance(error, _MONGO_ERRORS):
        return Outage("mongodb", "timeout" if isinstance(error, _MONGO_TIMEOUTS) else "unreachable")
    if isinstance(error, _REDIS_ERRORS):
        return Outage("redis", "timeout" if isinstance(error, _REDIS_TIMEOUTS) else "unreachable")
    if isinstance(error, OSError):  # TimeoutError, ConnectionRefusedError, resets, DNS failures
        store = _raised_by(error)
        if store is not None:
            return Outage(store, "timeout" if isinstance(error, TimeoutError) else "unreachable")
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it (tortoise wraps asyncpg errors), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def outage_of(error: BaseException) -> Outage | None:
    """Which store the error says is unavailable, and why; None when it is not an outage."""
    for link in _chain(error):
        outage = _one(link)
        if outage is not None:
            return outage
    return None


def reason_of(error: BaseException) -> str:
    """A short reason for a failed store call, safe to show to anyone (no hosts, ports or driver text)."""
    outage = outage_of(error)
    if outage is not None:
        return outage.reason
    if isinstance(error, TimeoutError):
        return "timeout"
    return "error"


def as_service_unavailable(error: BaseException) -> ServiceUnavailable | None:
    """The client-facing error for a store outage (logged with the driver's text the first time)."""
    if isinstance(error, ServiceUnavailable):
        return error
    converted = getattr(error, _CONVERTED, None)
    if converted is not None:
        return converted
    outage = outage_of(error)
    if outage is None:
        return None
    converted = ServiceUnavailable(outage.store, reason=outage.reason)
    # One failure often reaches many fields (a DataLoader batch): one log line for all of them.
    with contextlib.suppress(AttributeError):
        setattr(error, _CONVERTED, converted)
    log.warning("%s unavailable (%s): %s: %s", outage.store, outage.reason, type(error).__name__, error)
    return converted
