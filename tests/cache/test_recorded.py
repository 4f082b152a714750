"""Recorded entries (the whole-response cache): an entry depends on exactly the stamps its computation's
cache reads observed, before loading; reading around the cache falls back to the collection stamps."""

from __future__ import annotations

import asyncio

from app.cache import keys as cache_keys
from app.cache.core import Cache
from app.cache.keys import CacheKey
from app.common.changes import Change, ChangeKind, Entity, dispatch
from app.graphql import keys as response_keys
from app.stores import sql
from app.tasks import keys
from app.users import keys as user_keys
from tests.cache.conftest import MakeCache
from tests.cache.helpers import CountingLoader, eventually, listening, new_id, task_changed
from tests.support.redis_commands import recorded_commands


class Computation:
    """A response-like computation: reads the given resolver entries through the cache, counts its runs."""

    def __init__(self, cache: Cache, *reads: CacheKey, gate: asyncio.Event | None = None) -> None:
        self.cache, self.reads, self.gate = cache, reads, gate
        self.runs = 0
        self.loads = CountingLoader(lambda n: f"loaded {n}")

    async def __call__(self) -> dict:
        self.runs += 1
        run = self.runs
        values = [await self.cache.get(key, self.loads) for key in self.reads]
        if self.gate is not None:
            await self.gate.wait()
        return {"run": run, "values": values}


def response_key() -> CacheKey:
    return response_keys.response({"q": new_id()})


async def test_an_entry_follows_exactly_the_stamps_its_reads_observed(make_cache: MakeCache) -> None:
    # Given a computation that read one task row and one assignee slice
    cache = make_cache()
    read_task, other_task, assignee = new_id(), new_id(), "ab" * 12
    compute = Computation(cache, keys.task(read_task), keys.tasks_by_assignee(assignee))
    key = response_key()
    first = await cache.get_recorded(key, compute)

    # When writes touch other rows, other slices and other entities, it is served as stored
    async with listening(cache.invalidate):
        await dispatch([Change(Entity.TASK, ChangeKind.CREATED, (other_task,), ("title",),
                               partitions=keys.row_partitions(("TODO", None)))])
        await dispatch([Change(Entity.TASK, ChangeKind.UPDATED, (other_task,), ("status",),
                               partitions=keys.row_partitions(("TODO", None), ("COMPLETED", "cd" * 12)))])
        await dispatch([Change(Entity.USER, ChangeKind.UPDATED, ("ef" * 12,), ("name",))])
        await dispatch([Change(Entity.TAG, ChangeKind.UPDATED, (new_id(),), ("name",))])
        assert await cache.get_recorded(key, compute) == first
        assert compute.runs == 1
        assert cache.stats()["response_hits"] == 1

        # and a write of the task it read makes it run again
        await dispatch([task_changed(read_task)])
        assert (await cache.get_recorded(key, compute))["run"] == 2

        # as does a write into the assignee's slice (a task moved to that assignee), or one that does not
        # say which slices it touched
        await dispatch([Change(Entity.TASK, ChangeKind.UPDATED, (other_task,), ("assignee_id",),
                               partitions=keys.row_partitions(("TODO", None), ("TODO", assignee)))])
        assert (await cache.get_recorded(key, compute))["run"] == 3
        assert (await cache.get_recorded(key, compute))["run"] == 3
        await dispatch([task_changed(other_task)])
        assert (await cache.get_recorded(key, compute))["run"] == 4


async def test_a_write_that_commits_while_the_computation_runs_leaves_its_entry_unservable(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    task_id = new_id()
    compute = Computation(cache, keys.task(task_id), gate=asyncio.Event())
    key = response_key()
    running = asyncio.create_task(cache.get_recorded(key, compute))
    assert await eventually(lambda: compute.loads.calls == 1)  # the row was read; the computation goes on

    async with listening(cache.invalidate):
        await dispatch([task_changed(task_id)])
    compute.gate.set()
    assert (await running)["run"] == 1  # its own caller may have it: that read began before the write
    assert cache.stats()["response_stores"] == 1  # stored, under the values observed before the write

    compute.gate = None
    assert (await cache.get_recorded(key, compute))["run"] == 2


async def test_a_computation_that_reads_around_the_cache_follows_the_collection_stamps(
    make_cache: MakeCache, stores: None
) -> None:
    cache = make_cache()
    key = response_key()
    runs = 0

    async def around_the_cache() -> dict:  # e.g. userByEmail: a service read, no cache entry, no stamp
        nonlocal runs
        runs += 1
        return {"run": runs, "one": await sql.fetchval("SELECT 1")}

    assert (await cache.get_recorded(key, around_the_cache))["run"] == 1
    assert (await cache.get_recorded(key, around_the_cache))["run"] == 1  # stored, under the fallback stamps
    assert cache.stats()["response_fallbacks"] == 1

    async with listening(cache.invalidate):  # any write of any entity replaces its collection stamp
        await dispatch([Change(Entity.USER, ChangeKind.UPDATED, ("ab" * 12,), ("name",))])
    assert (await cache.get_recorded(key, around_the_cache))["run"] == 2


async def test_a_mongo_command_outside_a_cache_load_is_reading_around_the_cache(
    make_cache: MakeCache, stores: None
) -> None:
    from app.stores import mongo

    cache = make_cache()
    key = response_key()
    compute = Computation(cache, user_keys.user("ab" * 12))

    async def also_counts_users() -> dict:
        value = await compute()
        value["users"] = await mongo.database().users.count_documents({})
        return value

    await cache.get_recorded(key, also_counts_users)
    async with listening(cache.invalidate):
        await dispatch([Change(Entity.TASK, ChangeKind.UPDATED, (new_id(),), ("title",), partitions=())])
    assert (await cache.get_recorded(key, also_counts_users))["run"] == 2
    assert cache.stats()["response_fallbacks"] == 2


async def test_database_loads_of_cache_fills_are_covered_by_their_stamps(make_cache: MakeCache, stores: None) -> None:
    cache = make_cache()
    task_id = new_id()
    key = response_key()
    runs = 0

    async def through_the_cache() -> dict:
        nonlocal runs
        runs += 1
        return {"run": runs, "row": await cache.get(keys.task(task_id), lambda: sql.fetchval("SELECT 1"))}

    await cache.get_recorded(key, through_the_cache)
    async with listening(cache.invalidate):
        await dispatch([Change(Entity.USER, ChangeKind.UPDATED, ("ab" * 12,), ("name",))])
    assert (await cache.get_recorded(key, through_the_cache))["run"] == 1
    assert cache.stats()["response_fallbacks"] == 0


async def test_an_evicted_stamp_of_a_recorded_entry_only_causes_a_miss(make_cache: MakeCache) -> None:
    cache = make_cache()
    task_id = new_id()
    compute = Computation(cache, keys.task(task_id))
    key = response_key()
    await cache.get_recorded(key, compute)
    await cache.redis.delete(cache_keys.row_stamp(Entity.TASK, task_id))
    assert (await cache.get_recorded(key, compute))["run"] == 2
    assert (await cache.get_recorded(key, compute))["run"] == 2


async def test_a_bumped_epoch_makes_a_recorded_entry_unservable(make_cache: MakeCache) -> None:
    cache = make_cache()
    compute = Computation(cache)  # reads nothing: the epoch is all it depends on
    key = response_key()
    await cache.get_recorded(key, compute)
    assert (await cache.get_recorded(key, compute))["run"] == 1
    # as recovery from an outage does (it replaces every group's copy; this entry checks its own group's)
    await cache.redis.set(cache_keys.epoch(cache_keys.group_of(key.key)), f"bumped-{new_id()}")
    assert (await cache.get_recorded(key, compute))["run"] == 2


async def test_concurrent_misses_share_one_run_but_a_caller_after_a_write_does_not_join_it(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    compute = Computation(cache, keys.task(new_id()), gate=asyncio.Event())
    key = response_key()
    before = [asyncio.create_task(cache.get_recorded(key, compute)) for _ in range(5)]
    assert await eventually(lambda: cache.stats()["response_misses"] == 5 and compute.runs == 1)

    async with listening(cache.invalidate):  # a write elsewhere: it bumps the task collection stamp
        await dispatch([task_changed(new_id())])
    after = asyncio.create_task(cache.get_recorded(key, compute))
    assert await eventually(lambda: compute.runs == 2)  # its own run: it must see the write
    compute.gate.set()

    assert [value["run"] for value in await asyncio.gather(*before)] == [1] * 5
    assert (await after)["run"] == 2


async def test_two_instances_fill_a_recorded_entry_once(make_cache: MakeCache) -> None:
    first, second = (make_cache(lock_ms=60_000, lock_wait_s=60) for _ in range(2))
    key = response_key()
    gate = asyncio.Event()
    runs = 0

    async def compute() -> dict:
        nonlocal runs
        runs += 1
        await gate.wait()
        return {"run": runs}

    reads = asyncio.gather(*(cache.get_recorded(key, compute) for cache in (first, second) for _ in range(3)))
    assert await eventually(
        lambda: first.stats()["response_misses"] + second.stats()["response_misses"] == 6 and runs == 1
    )
    gate.set()
    assert [value["run"] for value in await reads] == [1] * 6
    assert runs == 1


async def test_a_fill_inside_a_locked_recorded_fill_takes_no_lock_of_its_own(make_cache: MakeCache) -> None:
    """The recorded entry's fill lock already keeps other instances out of the computation: the resolver
    entries it fills skip their own lock (a round trip each), and across two instances still load once."""
    first, second = (make_cache(lock_ms=60_000, lock_wait_s=60) for _ in range(2))
    row = keys.task(new_id())
    key = response_key()
    await first.get_recorded(key, CountingLoader(None))  # creates the stamps (a None result is not stored)
    gate = asyncio.Event()
    computations = [Computation(cache, row, gate=gate) for cache in (first, second)]
    with recorded_commands() as commands:
        reads = asyncio.gather(*(cache.get_recorded(key, compute) for cache, compute in zip((first, second),
                                                                                            computations)))
        assert await eventually(lambda: sum(c.runs for c in computations) == 1 and
                                sum(c.loads.calls for c in computations) == 1)
        gate.set()
        values = await reads
    assert values[0] == values[1] and sum(c.runs for c in computations) == 1
    assert sum(c.loads.calls for c in computations) == 1
    locks = [str(args[1]) for args in commands if args[0] == "SET" and ":lock:" in str(args[1])]
    assert not [name for name in locks if name.startswith(row.key)]
    # outside a recording the same entry's fill takes its lock as before
    await first.invalidate([task_changed(row.key.rsplit(":", 1)[1])])
    with recorded_commands() as commands:
        await first.get(row, CountingLoader("again"))
    assert [args for args in commands if args[0] == "SET" and str(args[1]).startswith(f"{row.key}:lock:")]


async def test_a_none_result_is_returned_and_not_stored(make_cache: MakeCache) -> None:
    cache = make_cache()
    key = response_key()
    load = CountingLoader(None)
    assert await cache.get_recorded(key, load) is None
    assert await cache.get_recorded(key, load) is None
    assert load.calls == 2 and cache.stats()["response_stores"] == 0


async def test_an_entry_reading_more_stamps_than_the_lookup_takes_falls_back(make_cache: MakeCache) -> None:
    from app.cache import core

    cache = make_cache()
    rows = [keys.task(new_id()) for _ in range(core.MAX_RECORDED_STAMPS)]
    key = response_key()
    runs = 0

    async def wide() -> dict:
        nonlocal runs
        runs += 1
        await cache.get_many(list(range(len(rows))), lambda i: rows[i], lambda items: _values(items))
        return {"run": runs}

    await cache.get_recorded(key, wide)
    assert cache.stats()["response_fallbacks"] == 1
    assert (await cache.get_recorded(key, wide))["run"] == 1
    async with listening(cache.invalidate):  # a write of no row it read, but of the collection
        await dispatch([Change(Entity.TASK, ChangeKind.UPDATED, (new_id(),), ("title",), partitions=())])
    assert (await cache.get_recorded(key, wide))["run"] == 2


async def _values(items: list[int]) -> list[int]:
    return items


async def test_a_raw_codec_stores_and_serves_the_text_as_it_is(make_cache: MakeCache) -> None:
    import pytest

    from app.cache.codec import RAW_JSON

    cache = make_cache()
    key = response_key()
    text = b'{"cost":7,"data":{"a":"\\u00e9\\n","b":[1,2]}}'
    assert await cache.get_recorded(key, CountingLoader(text), RAW_JSON) == text
    stored = await cache.redis.get(key.key)
    assert stored.split(b"\n", 2)[2] == text  # no second encoding: the bytes as given
    assert await cache.get_recorded(key, CountingLoader(b"other"), RAW_JSON) == text  # served back, unchanged
    with pytest.raises(ValueError):
        await cache.get(keys.task(new_id()), CountingLoader(b"{}"), RAW_JSON)
