"""Redis down or slow: reads fall back within the time-out, writes go on, nothing stale survives, recovery is automatic.

Each test runs its own throwaway redis-server (never the shared one). The dangerous case is a Redis
that comes back *with its old entries* after missing an invalidation: here a snapshot is SAVEd, the
server killed (so the invalidation surely never arrives), and restarted from the snapshot.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from app.auth.principal import SYSTEM
from app.cache import typed
from app.common.changes import dispatch
from app.tasks import keys
from app.tasks import service as tasks
from app.tasks.service import TaskRow
from tests.cache.conftest import MakeCache
from tests.cache.helpers import CountingLoader, PrivateRedis, eventually, listening, new_id, paused, task_changed
from tests.support.late_loop import LATE_TIMEOUT_S, pause_redis, stick_event_loop_soon

TIMEOUT_S = 0.2
# Bounds against hanging, far above any time-out the code under test is configured with.
BOUND_S = 20.0
ROW = typed(TaskRow | None)


async def test_reads_fall_back_within_the_time_out_when_redis_stops_answering(
    make_cache: MakeCache, private_redis: PrivateRedis
) -> None:
    # redis-py alone would wait out its 60 s socket time-out on the paused server: only the cache's own
    # time-out can answer within the bound below. No probe runs (an hour apart), so `errors` counts reads.
    cache = make_cache(private_redis.url, timeout_s=TIMEOUT_S, probe_s=3600, socket_timeout_s=60)
    key = keys.task(new_id())
    await cache.get(key, CountingLoader("cached"))

    with paused(private_redis.process):
        first = await asyncio.wait_for(cache.get(key, CountingLoader("from the database")), BOUND_S)
        after_first = cache.stats()
        second = await asyncio.wait_for(cache.get(key, CountingLoader("from the database again")), BOUND_S)
        stats = cache.stats()

    assert (first, second) == ("from the database", "from the database again")
    assert after_first["errors"] == 1 and after_first["degraded"] is True  # one time-out, then degraded
    assert stats["errors"] == 1  # degraded: Redis is not even tried until the probe sees it back
    assert stats["bypassed"] == 2 and stats["degraded_since"] is not None


async def test_a_slow_redis_is_treated_like_a_down_one_and_the_cache_recovers_by_itself(
    make_cache: MakeCache, private_redis: PrivateRedis
) -> None:
    cache = make_cache(private_redis.url, timeout_s=TIMEOUT_S, probe_s=0.05)
    key = keys.task(new_id())
    await cache.get(key, CountingLoader("cached"))
    admin = Redis.from_url(private_redis.url)
    await admin.execute_command("CLIENT", "PAUSE", "600", "ALL")

    assert await cache.get(key, CountingLoader("from the database")) == "from the database"
    assert cache.stats()["degraded"] is True

    assert await eventually(lambda: not cache.stats()["degraded"])
    load = CountingLoader("unused")
    assert await cache.get(key, load) == "cached"  # no write happened: the entry is still good
    assert load.calls == 0 and cache.stats()["recoveries"] == 1
    await admin.aclose()


async def test_a_killed_redis_fails_fast_and_every_failure_is_counted_but_logged_once(
    make_cache: MakeCache, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(private_redis.url, timeout_s=TIMEOUT_S, probe_s=0.02)
    private_redis.kill()

    with caplog.at_level(logging.WARNING, logger="taskboard.cache"):
        for _ in range(3):
            assert await cache.get(keys.task(new_id()), CountingLoader("db")) == "db"
        assert await eventually(lambda: cache.stats()["errors"] >= 5)

    warnings = [record for record in caplog.records if record.name == "taskboard.cache"]
    assert len(warnings) == 1
    assert "serving from the databases" in warnings[0].getMessage()


async def test_a_write_made_while_redis_was_down_leaves_no_stale_entry_anywhere(
    make_cache: MakeCache, private_redis: PrivateRedis
) -> None:
    writer = make_cache(private_redis.url, timeout_s=TIMEOUT_S, probe_s=0.05)
    reader = make_cache(private_redis.url, timeout_s=TIMEOUT_S, probe_s=0.05)  # idle during the outage
    task_id = new_id()
    page = keys.task_page({"status": "TODO", "nonce": task_id})
    for cache in (writer, reader):
        await cache.get(keys.task(task_id), CountingLoader("before the write"))
        await cache.get(page, CountingLoader("before the write"))
    private_redis.snapshot()
    private_redis.kill()

    async with listening(writer.invalidate):
        # the write committed; its invalidation is lost (a refused connection fails at once; the bound only
        # keeps a hang from stalling the suite)
        await asyncio.wait_for(dispatch([task_changed(task_id)]), BOUND_S)
    assert writer.stats()["missed_invalidations"] == 1
    assert await writer.get(keys.task(task_id), CountingLoader("fresh")) == "fresh"

    private_redis.restart()
    assert private_redis.exists(keys.task(task_id).key)  # the old entries are back in Redis...
    assert await eventually(lambda: not writer.stats()["degraded"])
    assert writer.stats()["flush_pending"] is False
    for cache in (reader, writer):  # ...and no instance serves them
        assert await cache.get(keys.task(task_id), CountingLoader("fresh")) == "fresh"
        assert await cache.get(page, CountingLoader("fresh")) == "fresh"


async def test_reads_during_the_outage_go_to_the_database_and_writes_still_succeed(
    make_cache: MakeCache, private_redis: PrivateRedis, stores: None
) -> None:
    cache = make_cache(private_redis.url, timeout_s=TIMEOUT_S, probe_s=0.05)
    marker = f"outage{new_id().replace('-', '')}"
    task = await tasks.create_task(title=f"{marker} before", actor=SYSTEM)
    load = lambda: tasks.get_task(task_id=task.id)  # noqa: E731
    assert (await cache.get(keys.task(task.id), load, ROW)).title == f"{marker} before"

    with paused(private_redis.process):
        async with listening(cache.invalidate):
            renamed = await tasks.update_task(task_id=task.id, title=f"{marker} after", actor=SYSTEM)
        assert renamed.title == f"{marker} after"
        assert (await cache.get(keys.task(task.id), load, ROW)).title == f"{marker} after"

    assert await eventually(lambda: not cache.stats()["degraded"])
    assert (await cache.get(keys.task(task.id), load, ROW)).title == f"{marker} after"


# ------------------------------------------------------------------ an overloaded process is not an outage
# (tests/support/late_loop.py: the event loop is stuck while a call's deadline passes, Redis paused meanwhile)


async def test_a_time_out_the_stuck_event_loop_handled_late_does_not_make_the_cache_degraded(
    make_cache: MakeCache, private_redis: PrivateRedis
) -> None:
    cache = make_cache(private_redis.url, timeout_s=LATE_TIMEOUT_S, socket_timeout_s=60, probe_s=3600)
    key = keys.task(new_id())
    await cache.get(key, CountingLoader("cached"))
    await pause_redis(private_redis.url, 1500)  # Redis answers nothing for 1.5 s

    stick_event_loop_soon()
    late = await asyncio.wait_for(cache.get(key, CountingLoader("from the database")), BOUND_S)
    after_late = cache.stats()
    # The loop keeps up now: a time-out on its deadline is Redis's, as before
    on_time = await asyncio.wait_for(cache.get(key, CountingLoader("from the database again")), BOUND_S)
    after_on_time = cache.stats()

    assert late == "from the database"  # that one call fell back
    assert after_late["late_timeouts"] == 1 and after_late["errors"] == 0 and after_late["degraded"] is False
    assert on_time == "from the database again"
    assert after_on_time["errors"] == 1 and after_on_time["degraded"] is True


async def test_an_invalidation_the_stuck_event_loop_timed_out_late_is_sent_again_not_missed(
    make_cache: MakeCache, private_redis: PrivateRedis
) -> None:
    cache = make_cache(private_redis.url, timeout_s=LATE_TIMEOUT_S, socket_timeout_s=60, probe_s=3600)
    task_id = new_id()
    key = keys.task(task_id)
    await cache.get(key, CountingLoader("before the write"))
    # Redis answers again at 700 ms: after the late time-out (handled at ~650 ms), within the resent one's deadline
    await pause_redis(private_redis.url, 700)

    stick_event_loop_soon()
    await asyncio.wait_for(cache.invalidate([task_changed(task_id)]), BOUND_S)
    stats = cache.stats()

    assert stats["late_timeouts"] == 1 and stats["errors"] == 0
    assert stats["missed_invalidations"] == 0 and stats["degraded"] is False
    assert await cache.get(key, CountingLoader("after the write")) == "after the write"  # the write is seen
