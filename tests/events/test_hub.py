"""The per-process hub: cross-instance delivery, one connection, bounded queues, clean endings."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from app.common.changes import Change, ChangeKind, Entity, dispatch
from app.events import keys as channel_keys
from app.events.hub import SubscriberNotice
from app.tasks import keys
from app.tasks.events import TaskEvent, task_events
from tests.cache.helpers import eventually, listening, new_id, paused, task_changed
from tests.events.conftest import MakeHub
from tests.events.helpers import connections_named, eventually_async, next_item, numsub, publish


async def test_a_change_committed_on_one_instance_reaches_a_subscriber_on_another(
    make_hub: MakeHub, make_publisher
) -> None:
    hub_b = await make_hub()
    publisher_a = make_publisher(origin="instance-a")
    task_id = new_id()

    async with task_events(hub_b) as stream, listening(publisher_a.publish):
        await dispatch([task_changed(task_id, fields=("status", "title"))])
        event = await next_item(stream)

    assert isinstance(event, TaskEvent)
    assert (event.kind, event.task_id, event.fields, event.origin) == (
        ChangeKind.UPDATED, task_id, ("status", "title"), "instance-a"
    )
    assert event.snapshot is None and event.at.tzinfo is not None
    assert publisher_a.stats() == {"published": 1, "publish_errors": 0, "publish_late_timeouts": 0}


async def test_one_change_about_many_tasks_is_one_publish_and_one_event_per_task(
    make_hub: MakeHub, make_publisher
) -> None:
    hub = await make_hub()
    publisher = make_publisher()
    first, second, gone = new_id(), new_id(), new_id()
    snapshot = {"id": gone, "title": "old", "status": "TODO", "assignee_id": None}

    async with task_events(hub) as stream, listening(publisher.publish):
        await dispatch([
            Change(Entity.TASK, ChangeKind.UPDATED, (first, second), ("assignee_id",)),
            Change(Entity.USER, ChangeKind.DELETED, (new_id(),)),  # not a task: not published
            Change(Entity.TASK, ChangeKind.DELETED, (gone,), (), snapshot=snapshot),
            Change(Entity.TASK, ChangeKind.UPDATED, ()),
        ])
        received = [await next_item(stream) for _ in range(4)]

    assert [(e.kind, e.task_id) for e in received] == [
        (ChangeKind.UPDATED, first), (ChangeKind.UPDATED, second), (ChangeKind.DELETED, gone), (ChangeKind.UPDATED, None)
    ]
    assert received[2].snapshot == snapshot
    assert publisher.stats()["published"] == 3


async def test_one_pubsub_connection_serves_any_number_of_subscribers(make_hub: MakeHub, redis_client: Redis) -> None:
    hub = await make_hub()
    task_channel = keys.task_events(hub.db)
    other_channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    streams = [task_events(hub) for _ in range(20)] + [hub.subscribe(other_channel) for _ in range(5)]
    for stream in streams:
        await stream.__aenter__()

    assert await connections_named(redis_client, hub.name) == 1
    assert await numsub(redis_client, task_channel) == 1
    assert await numsub(redis_client, other_channel) == 1
    assert hub.stats()["subscribers"] == 25 and hub.stats()["channels"] == 2

    await publish(redis_client, other_channel, b"hello")
    assert [await next_item(stream) for stream in streams[20:]] == [b"hello"] * 5
    for stream in streams:
        await stream.aclose()


async def test_each_payload_is_decoded_once_whatever_the_number_of_subscribers(
    make_hub: MakeHub, redis_client: Redis
) -> None:
    hub = await make_hub()
    channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    decoded: list[bytes] = []

    def decode(payload: bytes) -> list[str]:
        decoded.append(payload)
        return payload.decode().split(",")

    streams = [hub.subscribe(channel, decode) for _ in range(10)]
    for stream in streams:
        await stream.__aenter__()
    await publish(redis_client, channel, b"a,b")
    await publish(redis_client, channel, b"c")

    assert [[await next_item(stream) for _ in range(3)] for stream in streams] == [["a", "b", "c"]] * 10
    assert decoded == [b"a,b", b"c"]
    for stream in streams:
        await stream.aclose()


async def test_a_stream_given_a_deadline_ends_with_its_notice_then(make_hub: MakeHub, redis_client: Redis) -> None:
    hub = await make_hub()
    channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    async with hub.subscribe(channel) as ending, hub.subscribe(channel) as staying:
        await publish(redis_client, channel, b"before")
        assert await next_item(ending) == b"before"
        # (set after the first item arrived: a deadline set before could pass while a busy machine delivers it)
        ending.end_at(asyncio.get_running_loop().time() + 0.2, SubscriberNotice("EXPIRED", "token expired"))

        notice = await next_item(ending)  # waits: the deadline ends the wait
        assert notice == SubscriberNotice("EXPIRED", "token expired")
        with pytest.raises(StopAsyncIteration):
            await next_item(ending)
        await publish(redis_client, channel, b"after")
        assert [await next_item(staying) for _ in range(2)] == [b"before", b"after"]


async def test_the_redis_subscription_is_released_with_the_last_local_subscriber(
    make_hub: MakeHub, redis_client: Redis
) -> None:
    hub = await make_hub()
    channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    first, second = hub.subscribe(channel), hub.subscribe(channel)
    await first.__aenter__()
    await second.__aenter__()

    await first.aclose()
    assert await numsub(redis_client, channel) == 1

    await second.aclose()
    assert await eventually_async(lambda: numsub(redis_client, channel), 0)
    assert hub.stats()["channels"] == 0 and hub.stats()["subscribers"] == 0


async def test_a_consumer_cancelled_mid_wait_releases_its_subscription(make_hub: MakeHub, redis_client: Redis) -> None:
    hub = await make_hub()
    channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    entered = asyncio.Event()

    async def consume() -> None:  # what a subscription resolver does until its client goes away
        async with hub.subscribe(channel) as stream:
            entered.set()
            async for _ in stream:
                pass

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(entered.wait(), 5)
    assert await numsub(redis_client, channel) == 1

    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert await eventually_async(lambda: numsub(redis_client, channel), 0)


async def test_a_slow_subscriber_is_dropped_without_holding_up_a_fast_one(
    make_hub: MakeHub, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await make_hub(queue_size=5)
    channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    async with hub.subscribe(channel) as fast, hub.subscribe(channel) as slow:
        received: list[bytes] = []

        async def read_fast() -> None:
            while len(received) < 20:
                received.append(await next_item(fast))

        reader = asyncio.create_task(read_fast())
        with caplog.at_level(logging.WARNING, logger="taskboard.events"):
            for n in range(20):
                await publish(redis_client, channel, str(n).encode())
                # the fast one keeps up (it has read this one before the next is sent); the slow one never reads
                assert await eventually(lambda: len(received) == n + 1)
            await asyncio.wait_for(reader, 15)

        assert received == [str(n).encode() for n in range(20)]
        notice = await next_item(slow)
        assert isinstance(notice, SubscriberNotice) and notice.kind == "DROPPED"
        with pytest.raises(StopAsyncIteration):
            await next_item(slow)
    assert hub.stats()["dropped_subscribers"] == 1
    assert any("dropped a slow subscriber" in record.getMessage() for record in caplog.records)


async def test_closing_the_hub_ends_every_stream(make_hub: MakeHub) -> None:
    hub = await make_hub()
    ended: list[int] = []

    async def consume(n: int) -> None:
        async with task_events(hub) as stream:
            async for _ in stream:
                pass
        ended.append(n)

    consumers = [asyncio.create_task(consume(n)) for n in range(3)]
    assert await eventually(lambda: hub.stats()["subscribers"] == 3)

    await hub.close()

    await asyncio.wait_for(asyncio.gather(*consumers), 5)
    assert sorted(ended) == [0, 1, 2]
    with pytest.raises(RuntimeError):
        await task_events(hub).__aenter__()



async def test_a_consumer_cancelled_while_subscribing_leaves_nothing_behind(
    make_hub: MakeHub, private_redis, redis_client: Redis
) -> None:
    hub = await make_hub(private_redis.url, timeout_s=0.2)
    channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    with paused(private_redis.process):  # Redis will not confirm: entering waits
        entering = asyncio.create_task(hub.subscribe(channel).__aenter__())
        assert await eventually(lambda: hub.stats()["subscribers"] == 1)
        entering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await entering
        assert hub.stats()["subscribers"] == 0


async def test_arrival_work_holds_a_payload_until_done_and_later_payloads_keep_their_order(
    make_hub: MakeHub, make_publisher
) -> None:
    hub = await make_hub()
    publisher = make_publisher()
    slow, quick, plain = new_id(), new_id(), new_id()
    release = asyncio.Event()
    arrived: list[str | None] = []

    def hook(items) -> object:
        ids = [item.task_id for item in items]
        arrived.extend(ids)
        if slow in ids:
            return release.wait()  # the slow payload's work: done when the test says so
        if quick in ids:
            return asyncio.sleep(0)
        return None  # no work: delivered at once unless something before it is held

    async with task_events(hub, on_arrival=hook) as stream, task_events(hub) as other, listening(publisher.publish):
        for task_id in (slow, quick, plain):
            await dispatch([task_changed(task_id)])
        assert await eventually(lambda: arrived == [slow, quick, plain])
        # nothing reaches either subscriber while the first payload's work runs (order holds for everyone)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stream.__anext__(), 0.3)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(other.__anext__(), 0.1)
        release.set()
        assert [(await next_item(stream)).task_id for _ in range(3)] == [slow, quick, plain]
        assert [(await next_item(other)).task_id for _ in range(3)] == [slow, quick, plain]


async def test_an_inline_step_takes_items_only_while_its_consumer_waits_and_leaves_the_rest_in_order(
    make_hub: MakeHub, redis_client: Redis
) -> None:
    hub = await make_hub()
    channel = channel_keys.channel(hub.db, f"test-{new_id()}")
    taken: list[str] = []

    def step(item: str) -> bool:
        if item == "boom":
            raise RuntimeError("the step failed")
        if item.startswith("slow"):
            return False  # needs the consumer (e.g. something to await)
        taken.append(item)
        return True

    async with hub.subscribe(channel, lambda payload: payload.decode().split(",")) as stream:
        stream.inline = step
        # Given nobody reading: a payload waits for the consumer, the step never sees it
        await publish(redis_client, channel, b"queued")
        assert await eventually(lambda: hub.delivered == 1)
        assert not stream.idle and taken == []
        assert await next_item(stream) == "queued"

        # When the consumer waits: the step takes what it can, the consumer is not woken for those
        consumer = asyncio.ensure_future(next_item(stream))
        assert await eventually(lambda: stream.idle)
        await publish(redis_client, channel, b"a,b")
        assert await eventually(lambda: taken == ["a", "b"])
        assert not consumer.done()
        # and from the first item it does not take, the payload's items go to the consumer, in order
        await publish(redis_client, channel, b"x,slow-1,y")
        assert await consumer == "slow-1"
        assert taken == ["a", "b", "x"]
        assert await next_item(stream) == "y"  # left behind "slow-1", not taken by the step

        # An item the step fails on is the consumer's too
        consumer = asyncio.ensure_future(next_item(stream))
        assert await eventually(lambda: stream.idle)
        await publish(redis_client, channel, b"boom,z")
        assert [await consumer, await next_item(stream)] == ["boom", "z"]
        assert taken == ["a", "b", "x"]
