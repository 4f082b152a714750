"""The Redis rate limiter: charged by cost, shared by instances, atomic, refilling, failing open or closed."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from app.abuse.keys import BUCKET_SHARDS, all_buckets, buckets, client_ip_bucket, rate_limit_key
from app.abuse.ratelimit import RateLimiter
from app.auth.principal import ANONYMOUS, Principal, Role, system
from app.common.errors import RateLimited
from app.settings import Settings
from app.stores.redis import is_cluster, make_client
from tests.support.late_loop import LATE_TIMEOUT_S, pause_redis, stick_event_loop_soon
from tests.support.processes import throwaway_redis

MakeLimiter = Callable[..., RateLimiter]
# Windows so long that no point refills while a test runs, however slow the machine (1 point per 12 min at 5
# points): tests that count allowed requests must not depend on how fast they run.
LONG_WINDOW_S = 3600.0


@pytest.fixture
async def make_limiter(settings: Settings) -> AsyncIterator[MakeLimiter]:
    """Limiters on their own Redis clients (each one stands in for an app instance)."""
    clients: list[Redis] = []

    def make(*, points: int = 10, window_s: float = LONG_WINDOW_S, fail_open: bool = True, redis_url: str | None = None,
             timeout_s: float = 0.5) -> RateLimiter:
        private = {"redis_url": redis_url, "redis_cluster": False} if redis_url else {}  # a private Redis: one node
        client = make_client(settings.model_copy(update=private))
        clients.append(client)
        return RateLimiter(client, points=points, window_s=window_s, fail_open=fail_open, timeout_s=timeout_s)

    yield make
    for client in clients:
        await client.aclose()


def fresh_key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_requests_are_allowed_until_the_budget_is_spent(make_limiter: MakeLimiter) -> None:
    limiter, key = make_limiter(points=5), fresh_key()
    decisions = [await limiter.charge(key, 1) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    denied = decisions[-1]
    # One point refills every window / points = 720 s.
    assert 700.0 <= denied.retry_after_s <= 720.0
    with pytest.raises(RateLimited) as error:
        denied.raise_if_denied()
    assert error.value.code == "RATE_LIMITED" and error.value.extensions["retryAfter"] == denied.retry_after_s


async def test_requests_are_charged_by_cost(make_limiter: MakeLimiter) -> None:
    limiter, key = make_limiter(points=100), fresh_key()
    assert (await limiter.charge(key, 60)).allowed
    expensive = await limiter.charge(key, 50)
    assert not expensive.allowed and expensive.remaining == 40
    assert (await limiter.charge(key, 40)).allowed  # a denied request spent nothing
    assert not (await limiter.charge(key, 1)).allowed


async def test_two_instances_share_one_budget(make_limiter: MakeLimiter) -> None:
    first, second, key = make_limiter(points=4), make_limiter(points=4), fresh_key()
    assert first.redis is not second.redis
    results = [await (first if i % 2 else second).charge(key, 1) for i in range(6)]
    assert sum(d.allowed for d in results) == 4


async def test_concurrent_requests_from_two_instances_never_overspend(make_limiter: MakeLimiter) -> None:
    first, second, key = make_limiter(points=20), make_limiter(points=20), fresh_key()
    # As app instances do at start-up (app.stores.redis.connect): a cluster client learns the slot map first
    # (redis-py 8.1 breaks a connection when many commands race a cluster client's first initialization).
    for limiter in (first, second):
        if is_cluster(limiter.redis):
            await limiter.redis.initialize()
    decisions = await asyncio.gather(*(limiter.charge(key, 1) for limiter in [first, second] * 30))
    assert sum(d.allowed for d in decisions) == 20


async def test_budget_refills_with_time(make_limiter: MakeLimiter) -> None:
    # One point per 100 ms: a slow machine may see refills while spending, so spend until denied (the
    # budget holds 4; each charge takes 1 and at most one point comes back per 100 ms).
    limiter, key = make_limiter(points=4, window_s=0.4), fresh_key()
    denied = None
    for _ in range(1000):
        decision = await limiter.charge(key, 1)
        if not decision.allowed:
            denied = decision
            break
    assert denied is not None and 0 < denied.retry_after_s <= 0.1
    await asyncio.sleep(denied.retry_after_s + 0.05)
    assert (await limiter.charge(key, 1)).allowed


async def test_keys_are_independent(make_limiter: MakeLimiter) -> None:
    limiter, one, two = make_limiter(points=2), fresh_key(), fresh_key()
    assert (await limiter.charge(one, 2)).allowed
    assert not (await limiter.charge(one, 1)).allowed
    assert (await limiter.charge(two, 2)).allowed


def test_buckets_spread_over_sharded_sets_each_in_a_hash_slot_of_its_own() -> None:
    names = all_buckets()
    assert len({key_slot(name.encode()) for name in names}) == BUCKET_SHARDS
    assert len({buckets(fresh_key()) for _ in range(200)}) == BUCKET_SHARDS  # every shard gets callers
    caller = fresh_key()
    assert buckets(caller) == buckets(caller) and buckets(caller) in names
    # The names outlive a release: a caller moved to another set would get a fresh budget.
    assert (buckets("user:1"), buckets("ip:10.0.0.1")) == ("tb:rl:v3:{4}:buckets", "tb:rl:v3:{14}:buckets")


async def test_buckets_share_sorted_sets_without_ttl_and_full_ones_are_removed(make_limiter: MakeLimiter) -> None:
    # Given a bucket that will be full again 200 ms from now (2 points at 100 ms each)
    limiter, spent = make_limiter(points=2, window_s=0.2), fresh_key()
    later = next(key for key in iter(fresh_key, None) if buckets(key) == buckets(spent))  # same shard
    assert (await limiter.charge(spent, 2)).allowed
    assert await limiter.redis.zscore(buckets(spent), spent) is not None
    # The set is never evictable under volatile-* policies: it has no TTL (no bucket key of its own exists).
    assert await limiter.redis.ttl(buckets(spent)) == -1
    assert not await limiter.redis.exists(spent)
    # When its TAT has passed, the next allowed charge (any caller's of its shard) removes it
    await asyncio.sleep(0.3)
    assert (await limiter.charge(later, 1)).allowed
    assert await limiter.redis.zscore(buckets(spent), spent) is None
    assert await limiter.redis.zscore(buckets(spent), later) is not None
    # and a removed bucket is a full one
    assert (await limiter.charge(spent, 2)).allowed


async def test_every_charge_costs_at_least_one_point(make_limiter: MakeLimiter) -> None:
    limiter, key = make_limiter(points=3), fresh_key()
    assert [(await limiter.charge(key, 0)).remaining for _ in range(3)] == [2, 1, 0]
    assert not (await limiter.charge(key, 0)).allowed


async def test_script_survives_a_flushed_script_cache(make_limiter: MakeLimiter) -> None:
    with throwaway_redis() as (url, _):
        limiter, key = make_limiter(points=3, redis_url=url), fresh_key()
        assert (await limiter.charge(key, 1)).allowed
        await limiter.redis.script_flush()
        decision = await limiter.charge(key, 1)
        assert decision.allowed and decision.remaining == 1


async def test_redis_down_fails_open_when_configured(make_limiter: MakeLimiter) -> None:
    with throwaway_redis() as (url, process):
        limiter = make_limiter(points=1, redis_url=url, fail_open=True, timeout_s=0.3)
        assert (await limiter.charge(fresh_key(), 1)).degraded is False
        process.kill()
        process.wait()
        decision = await limiter.charge(fresh_key(), 1)
    assert decision.allowed and decision.degraded
    decision.raise_if_denied()
    assert limiter.failures == 1


async def test_redis_down_fails_closed_when_configured(make_limiter: MakeLimiter) -> None:
    with throwaway_redis() as (url, process):
        limiter = make_limiter(points=100, redis_url=url, fail_open=False, timeout_s=0.3)
        process.kill()
        process.wait()
        decision = await limiter.charge(fresh_key(), 1)
    assert not decision.allowed and decision.degraded
    with pytest.raises(RateLimited) as error:
        decision.raise_if_denied()
    assert "unavailable" in error.value.message and error.value.extensions["retryAfter"] == 1.0


async def test_a_stalled_redis_counts_as_down(make_limiter: MakeLimiter) -> None:
    with throwaway_redis() as (url, process):
        limiter = make_limiter(points=100, redis_url=url, fail_open=False, timeout_s=0.2)
        assert (await limiter.charge(fresh_key(), 1)).allowed
        process.send_signal(19)  # SIGSTOP: connected but silent
        try:
            # Without the limiter's own time-out the charge would wait until SIGCONT, i.e. past this bound.
            decision = await asyncio.wait_for(limiter.charge(fresh_key(), 1), 20)
        finally:
            process.send_signal(18)  # SIGCONT
    assert not decision.allowed and decision.degraded and limiter.failures == 1


@pytest.mark.parametrize("fail_open", [True, False])
async def test_a_time_out_the_stuck_event_loop_handled_late_decides_as_configured_but_is_no_redis_outage(
    make_limiter: MakeLimiter, caplog: pytest.LogCaptureFixture, fail_open: bool
) -> None:
    # tests/support/late_loop.py: this process is overloaded, not Redis (which may have answered in time).
    def warnings() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.name == "taskboard.ratelimit"]

    with throwaway_redis() as (url, _), caplog.at_level(logging.WARNING, logger="taskboard.ratelimit"):
        limiter = make_limiter(points=100, redis_url=url, fail_open=fail_open, timeout_s=LATE_TIMEOUT_S)
        assert (await limiter.charge(fresh_key(), 1)).allowed  # connected, the script loaded
        await pause_redis(url, 1500)  # Redis answers nothing for 1.5 s

        stick_event_loop_soon()
        late = await asyncio.wait_for(limiter.charge(fresh_key(), 1), 20)
        after_late = (limiter.late_timeouts, limiter.failures, warnings())
        # The loop keeps up now: a time-out on its deadline is Redis's, as before
        on_time = await asyncio.wait_for(limiter.charge(fresh_key(), 1), 20)

    assert late.degraded and late.allowed is fail_open  # the same decision as in an outage...
    assert after_late == (1, 0, [])  # ...but neither counted nor logged as one
    assert on_time.degraded and on_time.allowed is fail_open
    assert (limiter.late_timeouts, limiter.failures) == (1, 1)
    assert warnings() == [
        f"rate limiter: Redis unavailable (TimeoutError); {'allowing' if fail_open else 'denying'} requests"
    ]


def test_limits_are_kept_per_user_whatever_the_address() -> None:
    alice = Principal(user_id="a" * 24, role=Role.MEMBER)
    assert rate_limit_key(alice, "10.0.0.1") == rate_limit_key(alice, "10.0.0.2") == "user:" + "a" * 24
    assert rate_limit_key(ANONYMOUS, "10.0.0.1") != rate_limit_key(ANONYMOUS, "10.0.0.2")
    assert rate_limit_key(system("cli"), None) == "system:system:cli"


def test_anonymous_ipv6_clients_are_grouped_by_their_64_prefix() -> None:
    assert client_ip_bucket("2001:db8:1:2:aaaa::1") == client_ip_bucket("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_ip_bucket("2001:db8:1:3::1") != client_ip_bucket("2001:db8:1:2::1")
    assert client_ip_bucket("::ffff:10.1.2.3") == "10.1.2.3"
    assert client_ip_bucket(None) == client_ip_bucket("not an ip") == "unknown"
