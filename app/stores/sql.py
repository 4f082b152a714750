"""PostgreSQL through Tortoise: the transaction helper every multi-statement write uses, QuerySets compiled
once per shape for hot paths, and raw statements for what Tortoise cannot say.

Reads and replicas: with DATABASE_REPLICA_URLS set, a read (a compiled SELECT, a raw `fetch*` of a SELECT, or
`read()` around a QuerySet) outside a transaction goes where app.stores.replicas says (a replica during a
query operation, when one has what the reader must see; else the primary); everything else, and everything
inside `transaction()`, runs on the primary. After a commit (and after a write outside a transaction) its WAL
position is recorded before the change notices go out, so a cache fill that sees the notice's stamps also
finds that position. Without replicas every call goes straight to the pool, as before.

Compiled queries: building and compiling a QuerySet costs more CPU than running its statement (~0.26 ms for
the board's page query, against ~4 us to find its compiled form). A hot query is therefore defined once as a QuerySet whose variable values are `Param`s (`limit()`/`offset()` take an
`IntParam`), compiled by Tortoise to its parameterized SQL (`$n` placeholders) with `compile_query`, cached
per shape by the caller, and run with each request's values bound by name: Tortoise still defines the
statement, checked against the models; only the values change.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from pypika_tortoise import SqlContext
from pypika_tortoise.enums import Matching
from pypika_tortoise.queries import QueryBuilder
from pypika_tortoise.terms import Function, Term, ValueWrapper
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.expressions import Expression, ResolveContext, ResolveResult
from tortoise.filters import Like
from tortoise.queryset import AwaitableQuery
from tortoise.transactions import in_transaction

from app.common import changes
from app.stores import replicas

T = TypeVar("T")


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
        replica_set = replicas.current()
        if replica_set is not None:
            await replica_set.after_commit()
        await changes.dispatch(collected)


async def read(run: Callable[[BaseDBAsyncClient], Awaitable[T]]) -> T:
    """A read through Tortoise QuerySets, `run(client)` with `.using_db(client)`: on a replica when the
    route allows one (see the module docstring), else the primary (inside a transaction: the transaction)."""
    replica_set = replicas.current()
    if replica_set is None:
        return await run(connections.get("default"))
    return await replica_set.read(run, client=True)


# A statement that only reads: SELECT without a locking clause (a write, or FOR UPDATE, needs the primary).
_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b", re.IGNORECASE)


def is_read(sql: str) -> bool:
    """Whether a statement only reads (so a replica may run it)."""
    return sql.lstrip()[:6].upper() == "SELECT" and _LOCKING.search(sql) is None


async def _run(reads: bool | None, method: str, sql: str, args: list[Any] | tuple[Any, ...]) -> Any:
    """`conn.<method>(sql, *args)` on the connection the statement belongs on (`reads` None: look at the SQL)."""
    replica_set = replicas.current()
    if replica_set is None:
        async with connection() as conn:
            return await getattr(conn, method)(sql, *args)
    if reads if reads is not None else is_read(sql):
        return await replica_set.read(lambda conn: getattr(conn, method)(sql, *args))
    async with connection() as conn:
        result = await getattr(conn, method)(sql, *args)
    if not isinstance(connections.get("default"), TransactionalDBClient):
        await replica_set.after_commit()  # it committed on its own
    return result


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
    reads: bool = field(default=False, compare=False)  # a SELECT without a locking clause (see `is_read`)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]

    async def fetch(self, values: Mapping[str, Any]) -> list[asyncpg.Record]:
        return await _run(self.reads, "fetch", self.sql, self.args(values))  # type: ignore[no-any-return]

    async def fetchrow(self, values: Mapping[str, Any]) -> asyncpg.Record | None:
        return await _run(self.reads, "fetchrow", self.sql, self.args(values))  # type: ignore[no-any-return]

    async def fetchval(self, values: Mapping[str, Any]) -> Any:
        return await _run(self.reads, "fetchval", self.sql, self.args(values))

    async def execute(self, values: Mapping[str, Any]) -> str:
        return await _run(False, "execute", self.sql, self.args(values))  # type: ignore[no-any-return]


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
    return Statement(sql, tuple(names), reads=is_read(sql))


# ---------------------------------------------------------------- raw statements


async def fetch(query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of a query."""
    return await _run(None, "fetch", query, args)  # type: ignore[no-any-return]


async def fetchrow(query: str, *args: Any) -> asyncpg.Record | None:
    """First row of a query, or None."""
    return await _run(None, "fetchrow", query, args)  # type: ignore[no-any-return]


async def fetchval(query: str, *args: Any) -> Any:
    """First column of the first row."""
    return await _run(None, "fetchval", query, args)


async def execute(query: str, *args: Any) -> str:
    """Run a statement; returns the status tag (e.g. 'UPDATE 3')."""
    return await _run(False, "execute", query, args)  # type: ignore[no-any-return]
