from __future__ import annotations

import pytest

from app.stores import sql
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
