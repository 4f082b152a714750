"""Many keys in one script call per slot: the values, expiries and NX semantics the pipelines of SETs had."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from app.cache import keys as cache_keys
from app.cache.bulk import Bulk
from app.common.changes import Change, ChangeKind, Entity
from app.settings import Settings
from app.stores.redis import is_cluster, make_client
from app.tasks import keys as task_keys
from tests.cache.conftest import MakeCache
from tests.cache.helpers import new_id
from tests.support.redis_commands import recorded_commands


def _names(n: int) -> list[str]:
    """Keys spread over many slots on a cluster (no shared hash tag), one family each on one node."""
    run = uuid4().hex
    return [f"tb:test:bulk:{run}:{i}" for i in range(n)]


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis | RedisCluster]:
    client = make_client(settings)
    yield client
    await client.aclose()


async def test_set_all_sets_values_with_their_expiries_and_deletes(redis: Redis | RedisCluster) -> None:
    bulk = Bulk(redis)
    lasting, expiring, gone = _names(3)
    await redis.set(gone, b"old")
    await redis.set(lasting, b"before", ex=100)
    body = b"\x00binary\r\nvalue \xff"
    with recorded_commands() as commands:
        await bulk.set_all([(lasting, "text", None), (expiring, body, 60)], [gone])

    assert await redis.get(lasting) == b"text" and await redis.ttl(lasting) == -1  # SET without EX drops one
    assert await redis.get(expiring) == body and 0 < await redis.ttl(expiring) <= 60
    assert await redis.exists(gone) == 0
    slots = len({redis.keyslot(n) for n in (lasting, expiring, gone)}) if is_cluster(redis) else 1
    assert [c[0] for c in commands] == ["EVALSHA"] * slots
    await redis.delete(lasting, expiring)


async def test_set_absent_keeps_existing_values_and_answers_them(redis: Redis | RedisCluster) -> None:
    bulk = Bulk(redis)
    names = _names(40)
    await redis.set(names[3], b"theirs", ex=500)
    previous = await bulk.set_absent(names, "mine", [None if i % 2 else 30 for i in range(40)])

    assert previous == [b"theirs" if i == 3 else None for i in range(40)]
    values = await redis.mget(names) if not is_cluster(redis) else [await redis.get(n) for n in names]
    assert values == [b"theirs" if i == 3 else b"mine" for i in range(40)]
    assert await redis.ttl(names[3]) > 30  # untouched, expiry included
    assert await redis.ttl(names[0]) <= 30 and await redis.ttl(names[1]) == -1
    await redis.delete(*names) if not is_cluster(redis) else [await redis.delete(n) for n in names]


async def test_nothing_to_do_sends_nothing(redis: Redis | RedisCluster) -> None:
    bulk = Bulk(redis)
    with recorded_commands() as commands:
        await bulk.set_all([], [])
    assert commands == []
    assert await bulk.set_absent([], "x", []) == []


async def test_a_create_replaces_its_dozens_of_stamps_in_one_script_call_per_slot(make_cache: MakeCache) -> None:
    cache = make_cache()
    redis = cache.redis
    state = ("TODO", None, "write the quarterly report", "numbers for every team")
    change = Change(Entity.TASK, ChangeKind.CREATED, (new_id(),), ("title", "tags"),
                    partitions=task_keys.row_partitions(state, tags=["bug", "docs"]))
    names = list(dict.fromkeys(cache_keys.stamps_to_bump(change)))
    before = [await redis.get(name) for name in names]

    with recorded_commands() as commands:
        await cache.invalidate([change])

    assert len(names) > 30
    after = [await redis.get(name) for name in names]
    assert len(set(after)) == 1 and after[0] is not None and after[0] not in before  # one fresh token for all
    slots = len({redis.keyslot(n) for n in names}) if is_cluster(redis) else 1
    assert [c[0] for c in commands] == ["EVALSHA"] * slots
