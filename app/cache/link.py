"""The cache's guarded way to Redis: a time-out on every call, a degraded mode, recovery on its own.

While degraded, reads go straight to the databases and nothing is stored. A write whose invalidation
could not reach Redis is remembered as missed; recovery then bumps the global epoch (which every entry
depends on) before the cache is used again, so no entry filled before that write can be served. A time-out
that an overloaded event loop caused (it came back to the call long after the deadline) fails that one call
(LateLoop) without degrading; an invalidation is then sent again, and only a second failure counts as missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.stores import redis as store

log = logging.getLogger("taskboard.cache")

T = TypeVar("T")

# builtin TimeoutError (what asyncio.wait_for raises) is an OSError.
REDIS_ERRORS = (RedisError, OSError)


class Unavailable(Exception):
    """Redis failed or the cache is degraded: the caller falls back to the databases."""


class LateLoop(Unavailable):
    """A call timed out only because this process's event loop came back to it late (CPU overload, a long
    pause; app.stores.redis.LateTimeout): the caller falls back for this call, and the cache does not go degraded."""


class RateLimitedWarning:
    """Logs a warning at most once per interval and says how many were held back meanwhile."""

    def __init__(self, logger: logging.Logger, interval_s: float) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last = float("-inf")
        self._held = 0

    def __call__(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self._interval_s:
            self._held += 1
            return
        held, self._held, self._last = self._held, 0, now
        suffix = f" ({held} similar warnings held back)" if held else ""
        self._logger.warning(message + suffix, *args)


class RedisLink:
    def __init__(
        self,
        redis: Redis,
        *,
        timeout_s: float,
        probe_s: float,
        flush: Callable[[], Awaitable[Any]],
        warn_interval_s: float = 10.0,
    ) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.probe_s = probe_s
        self._flush = flush
        self._warn = RateLimitedWarning(log, warn_interval_s)
        self.degraded_since: float | None = None
        self.errors = 0
        self.recoveries = 0
        self.late_timeouts = 0  # time-outs that were the event loop's (LateLoop), not Redis's
        # Invalidations lost vs. covered by an epoch bump: equal means nothing stale can be served.
        self._missed = 0
        self._flushed = 0
        self._probe: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        return self.degraded_since is not None

    @property
    def missed(self) -> int:
        return self._missed

    @property
    def flush_pending(self) -> bool:
        return self._missed != self._flushed

    async def call(self, what: str, operation: Callable[[], Awaitable[T]], *, tolerate_late: bool = True) -> T:
        """Run one Redis operation within the time-out; raises Unavailable (and degrades) on failure.

        A time-out the event loop handled late (store.LateTimeout) raises LateLoop instead and leaves the cache in
        use (unless `tolerate_late` is False): Redis may well have answered in time.
        """
        if self.degraded:
            raise Unavailable(what)
        try:
            return await store.bounded(operation(), self.timeout_s)
        except REDIS_ERRORS as exc:
            if tolerate_late and isinstance(exc, store.LateTimeout):
                self.late_timeouts += 1
                raise LateLoop(what) from exc
            self.failed(what, exc)
            raise Unavailable(what) from exc

    def failed(self, what: str, exc: BaseException) -> None:
        """Count a failure, enter degraded mode and start probing for recovery."""
        self.errors += 1
        if self.degraded_since is None:
            self.degraded_since = time.time()
        self._warn("cache: Redis %s failed (%s); serving from the databases until it recovers", what, _describe(exc))
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._recover(), name="cache-recovery")

    def missed_invalidation(self) -> None:
        """A committed write could not invalidate: the epoch must be bumped before the cache serves again."""
        self._missed += 1

    async def _recover(self) -> None:
        while True:
            await asyncio.sleep(self.probe_s)
            try:
                await asyncio.wait_for(self.redis.ping(), self.timeout_s)
                target = self._missed
                if target != self._flushed:
                    await asyncio.wait_for(self._flush(), self.timeout_s)
                    self._flushed = target
            except REDIS_ERRORS as exc:
                self.errors += 1
                log.debug("cache: Redis still unavailable (%s)", _describe(exc))
                continue
            if self.flush_pending:  # an invalidation was missed while the epoch was being bumped
                continue
            outage = time.time() - (self.degraded_since or time.time())
            self.degraded_since = None
            self.recoveries += 1
            log.warning("cache: Redis is back after %.1fs; cache in use again", outage)
            return

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            try:
                await self._probe
            except asyncio.CancelledError:
                pass
            self._probe = None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
