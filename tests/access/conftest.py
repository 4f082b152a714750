from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.abuse.keys import all_buckets
from app.settings import Settings
from app.stores import sql
from app.stores.redis import make_client
from tests.access.world import World, build_world
from tests.support.data import reset_mongo, reset_postgres


@pytest.fixture(autouse=True)
async def clean_stores(stores: None) -> None:
    await reset_postgres()
    await reset_mongo()
    await sql.execute("TRUNCATE audit_log")


@pytest.fixture
async def world(clean_stores: None) -> World:
    return await build_world()


@pytest.fixture
async def fresh_buckets(settings: Settings) -> AsyncIterator[None]:
    """Every caller starts with a full rate-limit budget (all buckets live in the shards' sorted sets), and leaves
    none spent: a limited instance's day-long window would otherwise deny the suite's own callers."""
    redis = make_client(settings)
    try:
        await redis.delete(*all_buckets())
        yield
        await redis.delete(*all_buckets())
    finally:
        await redis.aclose()
