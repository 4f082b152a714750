"""Direct execution: a query runs from its compiled plan (app.graphql.plans) instead of graphql-core's
per-field machinery, calling the same resolvers and building the same response dict.

What stays graphql-core's: everything before execution (parsing, validation, limits, access control,
variables) and every answer that is not a plain success. The plan never produces an error itself: when
a resolver raises, a non-null field gets null, a value is not what its type expects, or anything else is
unexpected, the plan is abandoned and graphql-core executes the operation from the start, so errors,
partial data and paths are exactly its own. Queries have no side effects; the rate limit was charged
before execution, so nothing is charged twice. A root field whose resolver already failed is not run
again: the fallback answers it with the same error (a store that is down is waited for once, not twice).

Awaitables (DataLoader futures, async resolvers) are collected per level and gathered together, as
graphql-core does, so DataLoader batches stay one batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from graphql import ExecutionResult
from graphql.execution.executor import Executor
from graphql.execution.middleware import MiddlewareManager
from graphql.execution.values import get_argument_values
from graphql.pyutils import Undefined

from app.graphql.plans import PLANS, FieldKind, FieldPlan, Output, OutputKind
from app.metrics import DIRECT_EXECUTIONS

log = logging.getLogger("taskboard.graphql.direct")

_ATTRIBUTE, _METHOD, _RESOLVER = FieldKind.ATTRIBUTE, FieldKind.METHOD, FieldKind.RESOLVER
_LEAF, _OBJECT = OutputKind.LEAF, OutputKind.OBJECT

Container = dict[str, Any] | list[Any]
Pending = tuple[Any, Output, Container, Any]


class Abandoned(Exception):
    """The plan cannot answer exactly like graphql-core would: it executes the operation instead."""


class _Run:
    """One execution of a plan: the executor's request state, the resolve info and arguments of each
    resolver field (built once, not per row), and the awaitables of the current level."""

    __slots__ = ("bound", "executor", "is_awaitable", "pending", "root_failures")

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.is_awaitable = executor.is_awaitable
        self.pending: list[Pending] = []
        self.bound: dict[FieldPlan, tuple[Any, dict[str, Any]]] = {}
        # Root fields whose resolver failed, by response key: the fallback answers them with the same error.
        self.root_failures: dict[str, Exception] = {}

    def bind(self, field: FieldPlan) -> tuple[Any, dict[str, Any]]:
        """The field's resolve info and arguments for this request (the same for every row)."""
        executor = self.executor
        field_def, first = field.field_def, field.details[0]
        info = executor.build_resolve_info(
            field_def, [d.node for d in field.details], field.parent_type, field.path  # type: ignore[arg-type]
        )
        if field.method is not None:
            args = field.method.keywords(info)
        elif field_def.args or first.node.arguments:  # type: ignore[union-attr]
            args = get_argument_values(
                field_def, first.node, executor.variable_values,  # type: ignore[arg-type]
                first.fragment_variable_values, executor.hide_suggestions,
            )
        else:
            args = {}
        bound = self.bound[field] = (info, args)
        return bound


def _execute_fields(run: _Run, fields: tuple[FieldPlan, ...], source: Any, out: dict[str, Any]) -> None:
    for field in fields:
        kind = field.kind
        if kind is _ATTRIBUTE:
            value = getattr(source, field.name)
        elif kind is _METHOD:
            kwargs = (run.bound.get(field) or run.bind(field))[1]
            call: Any = field.resolve
            value = call(source, **kwargs) if field.method.takes_self else call(**kwargs)  # type: ignore[union-attr]
        elif kind is _RESOLVER:
            info, args = run.bound.get(field) or run.bind(field)
            value = field.resolve(source, info, **args)  # type: ignore[misc]
        else:
            out[field.key] = field.name
            continue
        _complete(run, field.output, value, out, field.key)  # type: ignore[arg-type]


def _complete(run: _Run, output: Output, value: Any, out: Container, key: Any) -> None:
    """Put the completed value at out[key], or a placeholder (keeping key order) and a pending awaitable."""
    if value.__class__ is output.passthrough:
        out[key] = value
        return
    if value is None or value is Undefined:
        if output.non_null:
            raise Abandoned("null for a non-null field")
        out[key] = None
        return
    if run.is_awaitable(value):
        out[key] = None
        run.pending.append((value, output, out, key))
        return
    if isinstance(value, Exception):
        raise Abandoned("a resolver returned an error")
    kind = output.kind
    if kind is _LEAF:
        if value.__class__ is output.enum_class:
            name = output.enum_names.get(value.value)  # type: ignore[union-attr]
            if name is not None:
                out[key] = name
                return
        coerced = output.coerce(value)  # type: ignore[misc]
        if coerced is None or coerced is Undefined:
            raise Abandoned("leaf coerced to null")
        out[key] = coerced
    elif kind is _OBJECT:
        result: dict[str, Any] = {}
        out[key] = result
        _execute_fields(run, output.fields, value, result)
    else:
        # Only real sequences: consuming any other iterable here would leave the fallback an exhausted one.
        if value.__class__ is not list and value.__class__ is not tuple:
            raise Abandoned("list value is not a list")
        items: list[Any] = [None] * len(value)
        out[key] = items
        item = output.item
        for index, entry in enumerate(value):
            _complete(run, item, entry, items, index)  # type: ignore[arg-type]


def _discard(pending: list[Pending]) -> None:
    """Close coroutines that will never be awaited (futures belong to their loaders and settle there)."""
    for awaitable, *_ in pending:
        close = getattr(awaitable, "close", None)
        if asyncio.iscoroutine(awaitable) and close is not None:
            close()
    pending.clear()


def _replaying(failures: dict[str, Exception]) -> MiddlewareManager:
    """Resolver middleware for the fallback: a root field that already failed fails again with the same error
    instead of running again (a store that is down would otherwise make the request wait for it twice)."""

    async def fail(error: Exception) -> Any:
        raise error

    def replay(next_: Callable[..., Any], root: Any, info: Any, **args: Any) -> Any:
        if info.path.prev is None and info.path.key in failures:
            return fail(failures[info.path.key])
        return next_(root, info, **args)

    return MiddlewareManager(replay)


def _fell_back(run: _Run, error: Exception, fallback: Callable[[], Any]) -> Any:
    _discard(run.pending)
    DIRECT_EXECUTIONS.inc("fallback")
    log.debug("direct execution abandoned, graphql-core executes the operation: %r", error)
    if run.root_failures:
        run.executor.middleware_manager = _replaying(run.root_failures)
    return fallback()


async def _gathered(pending: list[Pending]) -> list[Any]:
    """The settled values of a level's awaitables, exceptions included (the first one awaited alone)."""
    if len(pending) == 1:
        try:
            return [await pending[0][0]]
        except Exception as error:  # noqa: BLE001 - judged with the others below
            return [error]
    return await asyncio.gather(*(entry[0] for entry in pending), return_exceptions=True)


async def _settle(run: _Run, data: dict[str, Any], fallback: Callable[[], Any]) -> Any:
    try:
        while run.pending:
            pending, run.pending = run.pending, []
            values = await _gathered(pending)
            failed = [(out, key, value) for (_, _, out, key), value in zip(pending, values, strict=True)
                      if isinstance(value, BaseException)]
            if failed:
                run.root_failures.update(
                    {key: value for out, key, value in failed if out is data and isinstance(value, Exception)}
                )
                raise Abandoned("an awaited resolver failed") from failed[0][2]
            for (_, output, out, key), value in zip(pending, values, strict=True):
                _complete(run, output, value, out, key)
    except Exception as error:
        result = _fell_back(run, error, fallback)
        return await result if run.is_awaitable(result) else result
    DIRECT_EXECUTIONS.inc("direct")
    return run.executor.build_response(data)


def _enabled(executor: Executor) -> bool:
    settings = getattr(executor.context_value, "settings", None)
    if settings is None or not settings.graphql_direct_execution:
        return False
    middleware = executor.middleware_manager
    # Resolver middleware, abort signals and hooks are graphql-core execution features a plan does not run.
    return (
        (middleware is None or not middleware.middlewares)
        and executor.abort_signal is None
        and executor.hooks is None
    )


def execute_query(executor: Executor, fallback: Callable[[], Any]) -> ExecutionResult | Any:
    """Execute the executor's query operation from its plan; `fallback()` (graphql-core) when there is
    none or the plan cannot answer exactly like it. Returns what execute_operation returns."""
    if not _enabled(executor):
        return fallback()
    plan = PLANS.get(executor)
    if plan is None:
        DIRECT_EXECUTIONS.inc("unsupported")
        return fallback()
    run = _Run(executor)
    data: dict[str, Any] = {}
    try:
        _execute_fields(run, plan.fields, executor.root_value, data)
    except Exception as error:
        return _fell_back(run, error, fallback)
    if run.pending:
        return _settle(run, data, fallback)
    DIRECT_EXECUTIONS.inc("direct")
    return executor.build_response(data)
