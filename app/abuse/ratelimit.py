"""A rate limit charged by query cost, kept in Redis so every instance shares it (GCRA, one Lua script).

Each caller's bucket is one number: the theoretical arrival time (TAT, ms) of its next request. A request
of cost c moves it c * (window / points) ms forward; it is allowed while the new TAT stays within one
window of now, i.e. a caller may spend `points` in a burst and then `points` per window. The script runs
atomically in Redis with Redis' own clock (instances' clocks may differ), via EVALSHA (redis-py falls
back to EVAL when the script cache was flushed).

Every bucket lives in one of 16 sorted sets, chosen by the caller's key (app.abuse.keys.buckets: member =
caller, score = TAT; each set in its own hash slot, so a Redis Cluster spreads them over its nodes and one
charge still touches one key); the sets have no TTL, so Redis' `volatile-*` eviction never drops a bucket (an evicted bucket would hand its caller a fresh
budget). A bucket whose TAT has passed is full, the same as an absent one, so each allowed charge removes
those (ZREMRANGEBYSCORE: amortised O(log n) per charge, each bucket removed once): the set holds only the
callers that spent something within the last window.

When Redis fails or is slower than `timeout_s`, the limiter fails open (allows, marks the decision
degraded) or closed (denies with a short retry hint), per RATE_LIMIT_FAIL_OPEN. A time-out this process's
event loop handled late (app.stores.redis.LateTimeout: the process was overloaded, Redis may well have answered)
decides the same way but is no Redis outage: counted in `late_timeouts`, not in `failures`, and not logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from app.abuse import keys
from app.cache.link import REDIS_ERRORS, RateLimitedWarning
from app.common.errors import RateLimited
from app.settings import Settings
from app.stores import redis as store

log = logging.getLogger("taskboard.ratelimit")

# gcra(bucket set, caller (member), emission interval ms, burst ms (the window), cost) -> {allowed 0/1,
# retry_after_ms, remaining points}. Scores are integral ms (13 digits: exact in a double), written with
# %.0f so Lua never formats them in exponent notation. A Lua function so that another script can charge
# in the same round trip (app.graphql.response_cache: a cached response and its charge).
GCRA_FUNCTION = """
local function gcra(bucket, caller, emission, burst, cost)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local tat = tonumber(redis.call('ZSCORE', bucket, caller) or now)
  if tat < now then tat = now end
  local new_tat = tat + math.ceil(cost * emission)
  local allow_at = new_tat - burst
  if allow_at > now then
    local remaining = math.floor((burst - (tat - now)) / emission)
    if remaining < 0 then remaining = 0 end
    return {0, allow_at - now, remaining}
  end
  redis.call('ZADD', bucket, string.format('%.0f', new_tat), caller)
  redis.call('ZREMRANGEBYSCORE', bucket, '-inf', '(' .. string.format('%.0f', now))
  return {1, 0, math.floor((burst - (new_tat - now)) / emission)}
end
"""

# KEYS[1] the sorted set of buckets; ARGV: caller, emission interval ms (float), burst ms, cost.
GCRA_LUA = GCRA_FUNCTION + "return gcra(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))\n"

# Fail-closed denials ask clients to come back after this long.
UNAVAILABLE_RETRY_S = 1.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float
    remaining: int
    limit: int
    degraded: bool = False

    def raise_if_denied(self) -> None:
        """RATE_LIMITED (extensions.retryAfter in seconds) when not allowed."""
        if self.allowed:
            return
        if self.degraded:
            raise RateLimited("rate limiter unavailable; try again shortly", retry_after_s=self.retry_after_s)
        raise RateLimited(
            f"rate limit of {self.limit} cost points per window exceeded", retry_after_s=self.retry_after_s
        )


class RateLimiter:
    """Charges costs against per-key budgets shared by every instance on the same Redis."""

    def __init__(
        self, redis: Redis, *, points: int, window_s: float, fail_open: bool, timeout_s: float,
        buckets: Callable[[str], str] = keys.buckets,
    ) -> None:
        self.redis = redis
        self.buckets = buckets
        self.points = points
        self.window_s = window_s
        self.fail_open = fail_open
        self.timeout_s = timeout_s
        self._script = redis.register_script(GCRA_LUA)
        self._warn = RateLimitedWarning(log, 10.0)
        self.failures = 0
        self.late_timeouts = 0  # time-outs that were this process's late event loop's, not Redis's

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> RateLimiter:
        return cls(
            redis,
            points=settings.rate_limit_points,
            window_s=settings.rate_limit_window_s,
            fail_open=settings.rate_limit_fail_open,
            timeout_s=settings.rate_limit_timeout_s,
        )

    def bucket_of(self, key: str) -> tuple[str, list[str]]:
        """gcra()'s bucket set and its (caller, emission ms, burst ms) for the key: what a script charging the
        key passes, the cost apart."""
        window_ms = self.window_s * 1000.0
        return self.buckets(key), [key, repr(window_ms / self.points), repr(window_ms)]

    async def charge(self, key: str, cost: int) -> Decision:
        """Spend `cost` points (at least 1) of the key's budget if it has them; never raises for Redis trouble."""
        bucket, args = self.bucket_of(key)
        try:
            reply = await store.bounded(self._script(keys=[bucket], args=[*args, max(int(cost), 1)]), self.timeout_s)
        except REDIS_ERRORS as exc:
            if isinstance(exc, store.LateTimeout):
                self.late_timeouts += 1
            else:
                self.failures += 1
                mode = "allowing" if self.fail_open else "denying"
                self._warn("rate limiter: Redis unavailable (%s); %s requests", type(exc).__name__, mode)
            if self.fail_open:
                return Decision(True, 0.0, self.points, self.points, degraded=True)
            return Decision(False, UNAVAILABLE_RETRY_S, 0, self.points, degraded=True)
        return self.decision_of(reply)

    def decision_of(self, reply: list[int]) -> Decision:
        """The Decision of a gcra() answer."""
        allowed, retry_ms, remaining = reply
        return Decision(
            allowed=bool(allowed),
            retry_after_s=math.ceil(int(retry_ms)) / 1000.0,
            remaining=max(int(remaining), 0),
            limit=self.points,
        )
