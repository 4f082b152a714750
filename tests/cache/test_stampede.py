"""Stampede protection: concurrent misses on one entry cause one database load, in one process or many."""

from __future__ import annotations

import asyncio

import pytest

from app.tasks import keys
from tests.cache.conftest import MakeCache
from tests.cache.helpers import CountingBatchLoader, CountingLoader, eventually, new_id


async def test_fifty_concurrent_misses_on_one_key_load_once(make_cache: MakeCache) -> None:
    cache = make_cache()
    key = keys.task(new_id())
    load = CountingLoader("loaded once", gate=asyncio.Event())

    readers = asyncio.gather(*(cache.get(key, load) for _ in range(50)))
    assert await eventually(lambda: cache.stats()["misses"] == 50)  # every reader has missed
    load.gate.set()

    assert await readers == ["loaded once"] * 50
    assert load.calls == 1
    stats = cache.stats()
    assert (stats["loads"], stats["flights_joined"], stats["fills_awaited"]) == (1, 49, 0)  # joined in-process


async def test_concurrent_misses_on_two_instances_load_once(make_cache: MakeCache) -> None:
    # Locks and waits far longer than the test: the outcome cannot depend on how fast the machine is.
    first, second = (make_cache(lock_ms=60_000, lock_wait_s=60) for _ in range(2))
    key = keys.task(new_id())
    load = CountingLoader("loaded once", gate=asyncio.Event())

    reads = asyncio.gather(*(cache.get(key, load) for cache in (first, second) for _ in range(25)))
    # Every read has missed while the one load is still running
    assert await eventually(lambda: first.stats()["misses"] + second.stats()["misses"] == 50)
    load.gate.set()
    values = await reads

    assert values == ["loaded once"] * 50
    assert load.calls == 1
    assert first.stats()["fills_awaited"] + second.stats()["fills_awaited"] == 1


async def test_an_instance_stops_waiting_for_a_fill_that_never_comes_and_loads_itself(make_cache: MakeCache) -> None:
    # The stuck fill's lock outlives the test (60 s): only giving up after lock_wait_s ends the wait, well
    # within the 30 s bound below.
    stuck, waiting = make_cache(lock_ms=60_000), make_cache(lock_wait_s=0.2)
    key = keys.task(new_id())
    never = CountingLoader("never", gate=asyncio.Event())
    stuck_fill = asyncio.create_task(stuck.get(key, never))
    assert await eventually(lambda: never.calls == 1)

    own = CountingLoader("loaded after waiting")
    assert await asyncio.wait_for(waiting.get(key, own), 30) == "loaded after waiting"
    assert own.calls == 1

    stuck_fill.cancel()


async def test_a_failing_load_fails_every_waiter_and_the_next_read_loads_again(make_cache: MakeCache) -> None:
    cache = make_cache()
    key = keys.task(new_id())

    gate = asyncio.Event()

    async def broken() -> str:
        await gate.wait()
        raise RuntimeError("database said no")

    reads = asyncio.gather(*(cache.get(key, broken) for _ in range(5)), return_exceptions=True)
    assert await eventually(lambda: cache.stats()["flights_joined"] == 4)  # all wait on one load
    gate.set()
    results = await reads

    assert [str(result) for result in results] == ["database said no"] * 5
    assert cache.stats()["loads"] == 1
    assert await cache.get(key, CountingLoader("recovered")) == "recovered"


async def test_a_waiter_that_goes_away_does_not_cancel_the_load_for_the_others(make_cache: MakeCache) -> None:
    cache = make_cache()
    key = keys.task(new_id())
    load = CountingLoader("shared", gate=asyncio.Event())
    leaving = asyncio.create_task(cache.get(key, load))
    staying = asyncio.create_task(cache.get(key, load))
    assert await eventually(lambda: load.calls == 1 and cache.stats()["flights_joined"] == 1)

    leaving.cancel()
    load.gate.set()

    assert await staying == "shared"
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert load.calls == 1


async def test_overlapping_concurrent_batches_load_each_key_once(make_cache: MakeCache) -> None:
    cache = make_cache()
    a, b, c = new_id(), new_id(), new_id()
    load = CountingBatchLoader(delay_s=0.05)

    first, second = await asyncio.gather(
        cache.get_many([a, b], keys.task, load),
        cache.get_many([b, c], keys.task, load),
    )

    assert first == [f"value-{a}", f"value-{b}"]
    assert second == [f"value-{b}", f"value-{c}"]
    loaded = sorted(item for batch in load.batches for item in batch)
    assert loaded == sorted([a, b, c])


async def test_an_instance_whose_load_fails_hands_the_fill_to_a_waiting_one_at_once(make_cache: MakeCache) -> None:
    # The failing fill's lock outlives the test, and the waiter would wait 120 s on its own: only the
    # hand-over can end its wait within the 30 s bound below.
    failing, waiting = make_cache(lock_ms=120_000), make_cache(lock_wait_s=120)
    key = keys.task(new_id())
    gate = asyncio.Event()

    async def broken() -> str:
        await gate.wait()
        raise RuntimeError("database said no")

    failed = asyncio.create_task(failing.get(key, broken))
    assert await eventually(lambda: failing.stats()["loads"] == 1)
    own = CountingLoader("loaded by the waiter")
    waiter = asyncio.create_task(waiting.get(key, own))
    assert await eventually(lambda: waiting.stats()["misses"] == 1)  # it missed, and waits
    assert own.calls == 0

    gate.set()
    with pytest.raises(RuntimeError):
        await failed
    assert await asyncio.wait_for(waiter, 30) == "loaded by the waiter"  # not after lock_wait_s=120
