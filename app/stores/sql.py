"""Raw SQL on the shared asyncpg pool, and the transaction helper every multi-statement write uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from tortoise import connections

from app.common import changes

_tx_connection: ContextVar[asyncpg.Connection | None] = ContextVar("taskboard_tx_connection", default=None)


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """The current transaction's connection, or one borrowed from the pool for this block."""
    current = _tx_connection.get()
    if current is not None:
        yield current
        return
    async with connections.get("default").acquire_connection() as conn:
        yield conn


def in_transaction() -> bool:
    """True inside `transaction()`."""
    return _tx_connection.get() is not None


@asynccontextmanager
async def transaction() -> AsyncIterator[asyncpg.Connection]:
    """One database transaction; changes emitted inside are dispatched only after it commits.

    Nested use joins the outer transaction (a savepoint would let an inner failure be swallowed and
    the outer commit half a write; we never want that).
    """
    if _tx_connection.get() is not None:
        yield _tx_connection.get()  # type: ignore[misc]
        return
    token = changes.begin_collecting()
    committed = False
    try:
        async with connections.get("default").acquire_connection() as conn:
            conn_token = _tx_connection.set(conn)
            try:
                async with conn.transaction():
                    yield conn
                committed = True
            finally:
                _tx_connection.reset(conn_token)
    finally:
        collected = changes.end_collecting(token)
    if committed:
        await changes.dispatch(collected)


async def fetch(query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of a query."""
    async with connection() as conn:
        return await conn.fetch(query, *args)


async def fetchrow(query: str, *args: Any) -> asyncpg.Record | None:
    """First row of a query, or None."""
    async with connection() as conn:
        return await conn.fetchrow(query, *args)


async def fetchval(query: str, *args: Any) -> Any:
    """First column of the first row."""
    async with connection() as conn:
        return await conn.fetchval(query, *args)


async def execute(query: str, *args: Any) -> str:
    """Run a statement; returns the status tag (e.g. 'UPDATE 3')."""
    async with connection() as conn:
        return await conn.execute(query, *args)


def affected(status: str) -> int:
    """Row count from a status tag like 'UPDATE 3' or 'INSERT 0 2'."""
    try:
        return int(status.rsplit(" ", 1)[1])
    except (IndexError, ValueError):
        return 0
