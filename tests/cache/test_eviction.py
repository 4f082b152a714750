"""Redis under memory pressure: the services' Redis has a ceiling and evicts only keys with a TTL; cache
entries go, rate-limit buckets and collection stamps stay, and a lost per-row stamp only causes misses."""

from __future__ import annotations

from redis.asyncio import Redis

from app.abuse.keys import all_buckets
from app.abuse.ratelimit import RateLimiter
from app.cache import keys as cache_keys
from app.common.changes import Change, ChangeKind, Entity
from app.tasks import keys
from tests.cache.conftest import MakeCache
from tests.cache.helpers import CountingBatchLoader, CountingLoader, new_id
from tests.support.processes import services_redis


async def test_the_services_redis_has_a_ceiling_and_evicts_only_keys_with_a_ttl() -> None:
    with services_redis() as url:
        client = Redis.from_url(url)
        try:
            config = await client.config_get("maxmemory*")
        finally:
            await client.aclose()
    assert config["maxmemory-policy"] == "volatile-lru"
    assert int(config["maxmemory"]) == 256 * 1024 * 1024


async def test_only_per_row_stamps_carry_a_ttl(make_cache: MakeCache) -> None:
    cache = make_cache()
    task_id = new_id()
    await cache.get(keys.task(task_id), CountingLoader({"title": "a"}))
    await cache.get(keys.task_page({"first": 3}), CountingLoader([]))
    await cache.invalidate([Change(Entity.TASK, ChangeKind.UPDATED, (task_id,), ("title",))])
    await cache.invalidate([Change(Entity.TASK, ChangeKind.UPDATED, (), ("title",))])  # names no ids: bulk stamp

    assert await cache.redis.ttl(cache_keys.row_stamp(Entity.TASK, task_id)) > 0
    for shared in (cache_keys.epoch(), cache_keys.collection_stamp(Entity.TASK), cache_keys.bulk_stamp(Entity.TASK, task_id)):
        assert await cache.redis.exists(shared), shared
        assert await cache.redis.ttl(shared) == -1, shared


async def test_an_evicted_stamp_makes_its_entries_misses_never_stale_hits(make_cache: MakeCache) -> None:
    # Given a row entry and a list entry, both cached
    cache = make_cache()
    task_id = new_id()
    row, page = keys.task(task_id), keys.task_page({"first": 5})
    row_load, page_load = CountingLoader(lambda n: f"row {n}"), CountingLoader(lambda n: f"page {n}")
    assert await cache.get(row, row_load) == "row 1" and await cache.get(row, row_load) == "row 1"
    assert await cache.get(page, page_load) == "page 1"

    # When Redis drops the stamps they were filled under (as an eviction would)
    await cache.redis.delete(cache_keys.row_stamp(Entity.TASK, task_id), cache_keys.collection_stamp(Entity.TASK))

    # Then neither entry is served again: both load, and the new values are served from then on
    assert await cache.get(row, row_load) == "row 2"
    assert await cache.get(page, page_load) == "page 2"
    assert await cache.get(row, row_load) == "row 2" and row_load.calls == 2


async def every_bucket(limiter: RateLimiter) -> list[tuple[bytes, float]]:
    return [pair for name in all_buckets() for pair in await limiter.redis.zrange(name, 0, -1, withscores=True)]


async def test_a_full_redis_evicts_cache_entries_and_keeps_buckets_and_collection_stamps(make_cache: MakeCache) -> None:
    with services_redis(maxmemory="8mb") as url:
        # Given rate-limit buckets of 50 callers and the collection stamps of tasks and users
        limiter = RateLimiter(Redis.from_url(url), points=1000, window_s=86_400, fail_open=False, timeout_s=5)
        callers = [f"user:{new_id()}" for _ in range(50)]
        for caller in callers:
            assert (await limiter.charge(caller, 10)).allowed
        cache = make_cache(redis_url=url, ttl_s=3600)
        for entity in (Entity.TASK, Entity.USER):
            await cache.invalidate([Change(entity, ChangeKind.UPDATED, (), ("name",))])
        shared = [cache_keys.epoch(), *(cache_keys.collection_stamp(e) for e in (Entity.TASK, Entity.USER))]  # one node
        await cache.get(keys.task_page({"first": 1}), CountingLoader([]))  # creates the epoch
        stamps_before = await cache.redis.mget(shared)
        scores_before = await every_bucket(limiter)

        # When about 24 MB of cache entries go into 8 MB
        padding = "x" * 2048
        for batch in range(120):
            ids = [f"{batch}-{i}" for i in range(100)]
            await cache.get_many(ids, keys.task, CountingBatchLoader(lambda item: padding))

        # Then Redis evicted entries, and every bucket and collection stamp is still there, unchanged
        stats = await cache.redis.info("stats")
        assert stats["evicted_keys"] > 1000
        assert await cache.redis.mget(shared) == stamps_before and None not in stamps_before
        assert await every_bucket(limiter) == scores_before
        assert len(scores_before) >= 50
        # and a caller's budget is what it spent: 1000 - 10 - 10
        assert (await limiter.charge(callers[0], 10)).remaining == 980
        assert cache.stats()["errors"] == 0
        await limiter.redis.aclose()
