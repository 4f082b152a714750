"""PostgreSQL through Tortoise: the transaction helper every multi-statement write uses, QuerySets compiled
once per shape for hot paths, and raw statements for what Tortoise cannot say.

Compiled queries: building and compiling a QuerySet costs more CPU than running its statement (~0.26 ms for
the board's page query, against ~4 us to find its compiled form). A hot query is therefore defined once as a QuerySet whose variable values are `Param`s (`limit()`/`offset()` take an
`IntParam`), compiled by Tortoise to its parameterized SQL (`$n` placeholders) with `compile_query`, cached
per shape by the caller, and run with each request's values bound by name: Tortoise still defines the
statement, checked against the models; only the values change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from pypika_tortoise import SqlContext
from pypika_tortoise.enums import Matching
from pypika_tortoise.queries import QueryBuilder
from pypika_tortoise.terms import Function, Term, ValueWrapper
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.expressions import Expression, ResolveContext, ResolveResult
from tortoise.filters import Like
from tortoise.queryset import AwaitableQuery
from tortoise.transactions import in_transaction

from app.common import changes


def connection() -> AbstractAsyncContextManager[asyncpg.Connection]:
    """`async with connection() as conn`: the current transaction's asyncpg connection, or one from the pool."""
    return connections.get("default").acquire_connection()


@asynccontextmanager
async def transaction() -> AsyncIterator[asyncpg.Connection]:
    """One Tortoise transaction (`in_transaction()`); changes emitted inside are dispatched only after it commits.

    Every Tortoise query inside the block runs in the transaction. The block gets the transaction's asyncpg
    connection for the statements that are still raw. Nested use joins the outer transaction (a savepoint
    would let an inner failure be swallowed and the outer commit half a write; we never want that).
    """
    current = connections.get("default")
    if isinstance(current, TransactionalDBClient):
        yield current._connection  # type: ignore[attr-defined]
        return
    token = changes.begin_collecting()
    committed = False
    try:
        async with in_transaction("default") as client:
            yield client._connection  # type: ignore[attr-defined]
        committed = True
    finally:
        collected = changes.end_collecting(token)
    if committed:
        await changes.dispatch(collected)


# ---------------------------------------------------------------- compiled queries


class _Name:
    """What a Param puts into Tortoise's parameter list, so the compiled SQL tells which $n is which."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<param {self.name}>"


class Param(ValueWrapper):
    """A named bind parameter in a QuerySet built for `compile_query` (optionally cast, e.g. `text[]`)."""

    def __init__(self, name: str, cast: str | None = None) -> None:
        super().__init__(_Name(name))
        self.cast = cast

    def get_sql(self, ctx: SqlContext) -> str:
        sql = super().get_sql(ctx)
        return f"{sql}::{self.cast}" if self.cast else sql


class IntParam(int):
    """A named LIMIT/OFFSET parameter: `QuerySet.limit()` and `offset()` take an int, so the name rides on one."""

    name: str

    def __new__(cls, name: str) -> IntParam:
        param = super().__new__(cls, 1 << 40)
        param.name = name
        return param


class AnyOf(Term):
    """`= ANY($n)` against an array parameter: one placeholder whatever the list's length."""

    def __init__(self, array: Param) -> None:
        super().__init__()
        self.array = array

    def get_sql(self, ctx: SqlContext) -> str:
        return f"ANY({self.array.get_sql(ctx)})"


class Unnest(Function):
    """`unnest($n)`: an array parameter as rows (several in one SELECT list advance in lockstep)."""

    def __init__(self, array: Param) -> None:
        super().__init__("unnest", array)


class ILike(Like):
    """`(field ILIKE pattern ESCAPE '\\')`: Tortoise's `icontains` is UPPER() LIKE, which no trigram index serves."""

    def __init__(self, field: Term, pattern: Term) -> None:
        super().__init__(field, pattern)
        self.comparator = Matching.ilike

    def get_sql(self, ctx: SqlContext) -> str:
        return f"({super().get_sql(ctx)})"


class ClockTimestamp(Expression):
    """`clock_timestamp()`, the database's time when the statement runs, for `QuerySet.update(field=...)`."""

    def resolve(self, resolve_context: ResolveContext) -> ResolveResult:
        return ResolveResult(term=Function("clock_timestamp"))


# Filter an annotated ILike with `Q(name=TRUE)`: a literal, so PostgreSQL folds `(... ILIKE ...) = true` to the
# bare ILIKE in every plan and can use the trigram index.
TRUE = ValueWrapper(True, allow_parametrize=False)


@dataclass(frozen=True, slots=True)
class Statement:
    """Parameterized SQL compiled from a QuerySet, and the name of the value each `$n` takes."""

    sql: str
    names: tuple[str, ...]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]

    async def fetch(self, values: Mapping[str, Any]) -> list[asyncpg.Record]:
        async with connection() as conn:
            return await conn.fetch(self.sql, *self.args(values))

    async def fetchrow(self, values: Mapping[str, Any]) -> asyncpg.Record | None:
        async with connection() as conn:
            return await conn.fetchrow(self.sql, *self.args(values))

    async def fetchval(self, values: Mapping[str, Any]) -> Any:
        async with connection() as conn:
            return await conn.fetchval(self.sql, *self.args(values))

    async def execute(self, values: Mapping[str, Any]) -> str:
        async with connection() as conn:
            return await conn.execute(self.sql, *self.args(values))


def compile_query(query: AwaitableQuery | QueryBuilder) -> Statement:
    """The SQL Tortoise compiles for a QuerySet (or a statement of its query builder, for what QuerySets
    do not cover: INSERT ... SELECT, RETURNING); every value in it must be a `Param` or `IntParam` (else ValueError)."""
    if isinstance(query, AwaitableQuery):
        query.sql(params_inline=False)  # builds query.query
        query = query.query
    sql, params = query.get_parameterized_sql()
    names = []
    for value in params:
        if isinstance(value, (_Name, IntParam)):
            names.append(value.name)
        else:
            # A literal would be frozen into every later run of the statement.
            raise ValueError(f"compiled query has a literal value {value!r}: pass it as a Param")
    return Statement(sql, tuple(names))


# ---------------------------------------------------------------- raw statements


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
