"""Pooled PostgreSQL connections go back to the pool without a reset round trip, and without leaking state."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tortoise import connections

from app.settings import Settings
from app.stores.postgres import PooledConnection


@pytest.fixture
async def one_connection_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool of exactly one connection of the app's connection class."""
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=1, max_size=1, connection_class=PooledConnection,
        server_settings={"jit": "off"},
    )
    try:
        yield pool
    finally:
        await pool.close()


async def test_releasing_a_connection_sends_nothing_to_the_server(one_connection_pool: asyncpg.Pool) -> None:
    sent: list[str] = []
    async with one_connection_pool.acquire() as connection:
        assert isinstance(connection, PooledConnection)
        connection.add_query_logger(lambda record: sent.append(record.query))
        assert await connection.fetchval("SELECT 1") == 1
    # released: asyncpg's default would have sent its reset statements here
    async with one_connection_pool.acquire() as again:
        assert await again.fetchval("SELECT 2") == 2
    assert sent == ["SELECT 1", "SELECT 2"]


async def test_a_transaction_left_open_is_rolled_back_on_release(one_connection_pool: asyncpg.Pool) -> None:
    async with one_connection_pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("CREATE TEMP TABLE left_open (n int) ON COMMIT DROP")
        assert connection.is_in_transaction()
    async with one_connection_pool.acquire() as again:  # the same (only) connection
        assert not again.is_in_transaction()
        assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


async def test_app_work_leaves_no_session_state_a_reset_would_have_cleared(client) -> None:
    # Given the app has served writes and reads through its pool
    for n in range(3):
        response = await client.post("/graphql", json={"query": f'mutation {{ createTask(input: {{title: "p{n}"}}) {{ id }} }}'})
        assert "errors" not in response.json()
    response = await client.post("/graphql", json={"query": "{ tasks(first: 5) { totalCount nodes { id tags { name } } } }"})
    assert response.json()["data"]["tasks"]["totalCount"] >= 3
    # Then none of its connections holds what asyncpg's reset would undo
    pool: asyncpg.Pool = connections.get("default")._pool
    held = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        for connection in held:
            state = await connection.fetchrow(
                "SELECT current_setting('jit') AS jit, (SELECT count(*) FROM pg_listening_channels()) AS listens,"
                " (SELECT count(*) FROM pg_cursors WHERE is_holdable) AS cursors,"
                " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,"
                " (SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql) >= 0 AS alive"
            )
            assert not connection.is_in_transaction()
            assert dict(state) == {"jit": "off", "listens": 0, "cursors": 0, "locks": 0, "alive": True}
    finally:
        for connection in held:
            await pool.release(connection)
