"""Cache reads of one event-loop turn share one MGET (app.cache.same_turn), against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from app.cache.link import Unavailable
from app.cache.same_turn import SameTurnReads
from app.stores import redis as store
from app.tags import keys as tag_keys
from app.tasks import keys
from tests.cache.conftest import MakeCache
from tests.cache.helpers import CountingBatchLoader, new_id


class Counted:
    """`send` for SameTurnReads over a real client: every MGET it sends, in order."""

    def __init__(self, redis: Redis, fail: BaseException | None = None) -> None:
        self.redis, self.fail = redis, fail
        self.sent: list[list[str]] = []

    async def __call__(self, names: list[str]) -> list[bytes | None]:
        self.sent.append(names)
        if self.fail is not None:
            raise self.fail
        return await store.mget(self.redis, names)


async def test_reads_of_one_turn_share_one_mget_and_each_gets_its_own_values(make_cache: MakeCache) -> None:
    redis = make_cache().redis
    names = [f"tb:test:{{same}}:{new_id()}" for _ in range(5)]
    for n, name in enumerate(names):
        await redis.set(name, f"v{n}")
    send = Counted(redis)
    reads = SameTurnReads(send)

    answers = await asyncio.gather(reads.mget(names[:2]), reads.mget(names[2:3]), reads.mget([names[4], "tb:test:none"]))

    assert answers == [[b"v0", b"v1"], [b"v2"], [b"v4", None]]
    assert len(send.sent) == 1 and (reads.batches, reads.reads) == (1, 3)
    # a read alone in its turn, and reads of later turns, send their own
    assert await reads.mget([names[3]]) == [b"v3"]
    first = asyncio.ensure_future(reads.mget([names[0]]))
    await asyncio.sleep(0.01)
    assert await asyncio.gather(first, reads.mget([names[1]])) == [[b"v0"], [b"v1"]]
    assert len(send.sent) == 4


async def test_a_failed_mget_reaches_every_read_of_its_turn(make_cache: MakeCache) -> None:
    reads = SameTurnReads(Counted(make_cache().redis, fail=Unavailable("read")))
    answers = await asyncio.gather(*(reads.mget(["tb:test:x"]) for _ in range(3)), return_exceptions=True)
    assert [type(answer) for answer in answers] == [Unavailable] * 3


async def test_a_cancelled_first_read_leaves_the_others_to_fall_back(make_cache: MakeCache) -> None:
    gate = asyncio.Event()

    async def hanging(names: list[str]) -> list[bytes | None]:
        await gate.wait()
        return [None] * len(names)

    reads = SameTurnReads(hanging)
    first = asyncio.ensure_future(reads.mget(["tb:test:a"]))
    others = [asyncio.ensure_future(reads.mget(["tb:test:b"])) for _ in range(2)]
    await asyncio.sleep(0.01)  # all three joined one MGET, which hangs
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    for other in others:
        with pytest.raises(Unavailable):
            await other


async def test_a_batch_and_another_batch_of_the_same_turn_read_redis_once(make_cache: MakeCache) -> None:
    """Two DataLoader batches dispatched together (a page's rows and their tags): one MGET for both."""
    cache = make_cache()
    rows, tags = CountingBatchLoader(lambda i: f"row {i}"), CountingBatchLoader(lambda i: f"tags of {i}")
    ids = [new_id() for _ in range(5)]

    async def both() -> tuple[list, list]:
        return await asyncio.gather(cache.get_many(ids, keys.task, rows), cache.get_many(ids, tag_keys.task_tags, tags))

    await both()  # fills (creates the stamps, loads, stores)
    before = cache.stats()
    got_rows, got_tags = await both()
    after = cache.stats()
    assert got_rows == [f"row {i}" for i in ids] and got_tags == [f"tags of {i}" for i in ids]
    assert len(rows.batches) == len(tags.batches) == 1  # served from the cache the second time
    assert after["reads_batched"] - before["reads_batched"] == 2
    assert after["read_batches"] - before["read_batches"] == 1
