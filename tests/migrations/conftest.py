"""A throwaway PostgreSQL database per test: created empty, dropped afterwards (even with connections left)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.stores.postgres import credentials_from_url


async def connect(url: str) -> asyncpg.Connection:
    creds = credentials_from_url(url, pool_min=1, pool_max=1)
    return await asyncpg.connect(
        host=creds["host"], port=creds["port"], user=creds["user"], password=creds["password"],
        database=creds["database"],
    )


@pytest.fixture
async def fresh_database_url() -> AsyncIterator[str]:
    """The URL of a new, empty database named after the test database (so parallel test sets never clash)."""
    base = os.environ["DATABASE_URL"]
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/')}_tmp_{secrets.token_hex(4)}"
    admin = await connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
