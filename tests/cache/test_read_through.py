"""Read-through: misses load and fill, hits do not load, values round-trip, counters tell which was which."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from app.cache import typed
from app.stores.redis import mget
from app.tasks import keys
from app.tasks.models import TaskStatus
from tests.cache.conftest import MakeCache
from tests.cache.helpers import CountingBatchLoader, CountingLoader, new_id


@dataclass(frozen=True)
class Row:
    id: str
    status: TaskStatus
    due: datetime | None


async def test_a_miss_loads_once_then_hits_without_loading(make_cache: MakeCache) -> None:
    cache = make_cache()
    key = keys.task(new_id())
    load = CountingLoader({"title": "write specs"})

    first = await cache.get(key, load)
    second = await cache.get(key, load)

    assert first == second == {"title": "write specs"}
    assert load.calls == 1
    stats = cache.stats()
    assert (stats["misses"], stats["hits"], stats["loads"], stats["stores"]) == (1, 1, 1, 1)
    assert stats["errors"] == 0 and stats["degraded"] is False


async def test_entries_are_orjson_with_the_stamps_they_were_filled_under_and_a_ttl(make_cache: MakeCache) -> None:
    cache = make_cache(ttl_s=120)
    key = keys.task(new_id())

    await cache.get(key, CountingLoader([1, 2]))

    raw = await cache.redis.get(key.key)
    entry = orjson.loads(raw)
    current = await mget(cache.redis, key.stamps)  # the first: the epoch copy of the entry's group
    assert entry == {"s": [value.decode() for value in current], "v": [1, 2]}
    assert 0 < await cache.redis.ttl(key.key) <= 120


async def test_a_typed_codec_returns_the_loaders_type_on_hits(make_cache: MakeCache) -> None:
    cache = make_cache()
    codec = typed(Row)
    row = Row(new_id(), TaskStatus.IN_PROGRESS, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    key = keys.task(row.id)

    await cache.get(key, CountingLoader(row), codec)
    hit = await cache.get(key, CountingLoader(None), codec)

    assert hit == row
    assert isinstance(hit.status, TaskStatus) and hit.due == row.due


async def test_none_is_cached_as_a_result(make_cache: MakeCache) -> None:
    cache = make_cache()
    key = keys.task(new_id())
    load = CountingLoader(None)

    assert await cache.get(key, load) is None
    assert await cache.get(key, load) is None

    assert load.calls == 1
    assert cache.stats()["hits"] == 1


async def test_an_entry_that_no_longer_decodes_is_a_miss(make_cache: MakeCache) -> None:
    cache = make_cache()
    key = keys.task(new_id())
    await cache.get(key, CountingLoader({"not": "a row"}))
    load = CountingLoader(Row(new_id(), TaskStatus.TODO, None))

    value = await cache.get(key, load, typed(Row))

    assert load.calls == 1
    assert value == load.value


async def test_get_many_loads_only_the_misses_in_one_batch_and_keeps_key_order(make_cache: MakeCache) -> None:
    cache = make_cache()
    a, b, c = new_id(), new_id(), new_id()
    await cache.get(keys.task(b), CountingLoader("value-" + b))
    load = CountingBatchLoader()

    values = await cache.get_many([c, b, a, c], keys.task, load)

    assert values == [f"value-{c}", f"value-{b}", f"value-{a}", f"value-{c}"]
    assert load.batches == [[c, a]]
    assert await cache.get_many([a, b, c], keys.task, load) == [f"value-{a}", f"value-{b}", f"value-{c}"]
    assert len(load.batches) == 1


async def test_a_disabled_cache_always_loads_and_stores_nothing(make_cache: MakeCache) -> None:
    cache = make_cache(enabled=False)
    key = keys.task(new_id())
    load = CountingLoader("fresh")

    await cache.get(key, load)
    await cache.get(key, load)

    assert load.calls == 2
    assert await cache.redis.exists(key.key) == 0
    assert cache.stats()["bypassed"] == 2
