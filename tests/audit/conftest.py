from __future__ import annotations

import pytest

from app.stores import sql


@pytest.fixture(autouse=True)
async def empty_audit_log(stores: None) -> None:
    await sql.execute("TRUNCATE audit_log")
