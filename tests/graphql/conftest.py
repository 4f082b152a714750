from __future__ import annotations

import pytest

from tests.support.data import reset_mongo, reset_postgres


@pytest.fixture(autouse=True)
async def clean_stores(stores: None) -> None:
    await reset_postgres()
    await reset_mongo()
