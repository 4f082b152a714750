"""Redis drops: the hub tells subscribers, reconnects with backoff, resubscribes, and events flow again.

Each test runs its own throwaway redis-server (never the shared one).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from app.common.changes import dispatch
from app.events.hub import SubscriberNotice
from app.tasks.events import TaskEvent, task_events
from tests.cache.helpers import PrivateRedis, eventually, listening, new_id, paused, task_changed
from tests.events.conftest import MakeHub
from tests.events.helpers import next_item
from tests.support.late_loop import LATE_TIMEOUT_S, pause_redis, stick_event_loop_soon

BOUND_S = 20.0  # against hanging only: far above any time-out configured here


async def test_after_redis_restarts_on_the_same_port_subscribers_are_told_and_receive_again(
    make_hub: MakeHub, make_publisher, private_redis: PrivateRedis
) -> None:
    hub = await make_hub(private_redis.url, timeout_s=0.2, reconnect_max_s=0.2)
    async with task_events(hub) as stream:
        private_redis.kill()
        lost = await next_item(stream)
        assert isinstance(lost, SubscriberNotice) and lost.kind == "DISCONNECTED"
        assert hub.stats()["connected"] is False

        private_redis.restart()
        back = await next_item(stream)
        assert isinstance(back, SubscriberNotice) and back.kind == "RECONNECTED"

        publisher = make_publisher(private_redis.url)
        task_id = new_id()
        async with listening(publisher.publish):
            await dispatch([task_changed(task_id)])
        event = await next_item(stream)

    assert isinstance(event, TaskEvent) and event.task_id == task_id
    assert hub.stats()["reconnects"] == 1 and hub.stats()["connected"] is True


async def test_a_frozen_redis_is_noticed_by_ping_and_the_stream_resumes_when_it_thaws(
    make_hub: MakeHub, private_redis: PrivateRedis
) -> None:
    hub = await make_hub(private_redis.url, timeout_s=0.2, reconnect_max_s=0.2, ping_s=0.2)
    channel_name = task_events(hub).channel
    async with hub.subscribe(channel_name) as stream:
        with paused(private_redis.process):
            lost = await next_item(stream)
            assert isinstance(lost, SubscriberNotice) and lost.kind == "DISCONNECTED"

        back = await next_item(stream)
        assert isinstance(back, SubscriberNotice) and back.kind == "RECONNECTED"
        publisher = Redis.from_url(private_redis.url)
        await publisher.publish(channel_name, b"after the thaw")
        assert await next_item(stream) == b"after the thaw"
        await publisher.aclose()


async def test_a_subscriber_arriving_during_an_outage_is_told_at_once_and_served_after_it(
    make_hub: MakeHub, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    # A subscriber not told at once would be told after the hub's confirmation time-out, 4 x timeout_s = 60 s
    # here: far past the 30 s bound below, which a busy machine cannot exceed by accident.
    hub = await make_hub(private_redis.url, timeout_s=15, reconnect_max_s=0.2)
    with caplog.at_level(logging.WARNING, logger="taskboard.events"):
        private_redis.kill()
        assert await eventually(lambda: not hub.stats()["connected"])

        async with hub.subscribe(task_events(hub).channel) as stream:
            told = await next_item(stream, timeout_s=30)
            assert isinstance(told, SubscriberNotice) and told.kind == "DISCONNECTED"

            private_redis.restart()
            back = await next_item(stream)
            assert isinstance(back, SubscriberNotice) and back.kind == "RECONNECTED"

    messages = [record.getMessage() for record in caplog.records]
    assert sum("connection lost" in message for message in messages) == 1  # retries are not each a warning
    assert sum("reconnected" in message for message in messages) == 1


async def test_a_failed_publish_is_counted_and_logged_and_does_not_fail_the_write(
    make_publisher, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = make_publisher(private_redis.url)
    private_redis.kill()

    with caplog.at_level(logging.WARNING, logger="taskboard.events"):
        async with listening(publisher.publish):
            await dispatch([task_changed(new_id())])  # returns: the write already committed

    assert publisher.stats() == {"published": 0, "publish_errors": 1, "publish_late_timeouts": 0}
    assert any("publishing 1 change(s) failed" in record.getMessage() for record in caplog.records)


async def test_a_publish_the_stuck_event_loop_timed_out_late_is_counted_apart_and_not_logged_as_an_outage(
    make_publisher, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    # tests/support/late_loop.py: this process is overloaded, not Redis (the change may well have gone out).
    publisher = make_publisher(private_redis.url, timeout_s=LATE_TIMEOUT_S)
    await publisher.publish([task_changed(new_id())])  # connected
    await pause_redis(private_redis.url, 1500)  # Redis answers nothing for 1.5 s

    with caplog.at_level(logging.WARNING, logger="taskboard.events"):
        stick_event_loop_soon()
        await asyncio.wait_for(publisher.publish([task_changed(new_id())]), BOUND_S)
        after_late = publisher.stats()
        warned_late = [record for record in caplog.records if record.name == "taskboard.events"]
        # The loop keeps up now: a time-out on its deadline is Redis's, as before
        await asyncio.wait_for(publisher.publish([task_changed(new_id())]), BOUND_S)

    assert after_late == {"published": 1, "publish_errors": 0, "publish_late_timeouts": 1} and warned_late == []
    assert publisher.stats() == {"published": 1, "publish_errors": 1, "publish_late_timeouts": 1}
    warnings = [record.getMessage() for record in caplog.records if record.name == "taskboard.events"]
    assert len(warnings) == 1 and "publishing 1 change(s) failed" in warnings[0]
