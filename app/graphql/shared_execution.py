"""One execution per subscription event for every subscriber that would get the same answer.

graphql-core executes a subscription's selection set once per event and per subscriber. A thousand
subscribers with the same document, the same variables and the same rights would run the same
execution a thousand times; this executor runs it once and hands every one of them that result.

An event takes part when its payload (the value the subscription field yields) is a `SharedEvent`, i.e.
its `shared_executions` is a `SharedExecutions`: the executions already done for it, keyed by
(operation, variables, rights). Other payloads execute per subscriber, exactly as graphql-core does.

Every execution runs under a read route (app.stores.routing) when a store routes reads: a query operation's
reads may come from a replica, a mutation's and a subscription event's from the primary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, cast

import orjson
from graphql import ExecutionResult, OperationType
from graphql.execution.executor import Executor
from graphql.pyutils import Undefined, is_awaitable

from app.common.shared import SharedWork
from app.graphql.direct_execution import execute_query
from app.graphql.strawberry_adapter import ExecutorBase
from app.metrics import SUBSCRIPTION_RESULTS
from app.stores import routing

ShareKey = tuple[int, bytes, str]


@dataclass(eq=False)
class SharedExecutions:
    """The results (or the running execution) of one event's payload, by share key."""

    results: dict[ShareKey, tuple[Any, ExecutionResult | SharedWork[ExecutionResult]]] = field(
        default_factory=dict
    )


class SharedEvent(Protocol):
    """A subscription payload whose executions are shared between the subscribers that agree on a key."""

    shared_executions: SharedExecutions

    def prepare(self, context: Any) -> None:
        """Make `context` ready to execute against this payload (fresh loaders primed with its data)."""


def _variables_key(executor: Executor) -> bytes | None:
    """The variables as the client sent them, canonically encoded; None when they cannot be compared."""
    values = {
        name: source.value for name, source in executor.variable_values.sources.items()
        if getattr(source, "value", Undefined) is not Undefined
    }
    try:
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None


def _shared(payload: Any) -> SharedExecutions | None:
    shared = getattr(payload, "shared_executions", None)
    return shared if isinstance(shared, SharedExecutions) else None


def _rights_key(context: Any) -> str | None:
    principal = getattr(context, "principal", None)
    return principal.rights_key() if principal is not None else None


class SharedEventExecutor(ExecutorBase):
    """strawberry's executor, executing a `SharedEvent` once per share key; queries try their compiled plan
    first (app.graphql.direct_execution)."""

    _share_key: ShareKey | None = None

    def build_per_event_executor(self, payload: Any) -> Executor:
        if self._share_key is None and _shared(payload) is not None:
            variables, rights = _variables_key(self), _rights_key(self.context_value)
            if variables is not None and rights is not None:
                # The operation node lives as long as the subscription; its id is stable and unique
                # among live subscriptions (the stored node below guards against a reused id).
                self._share_key = (id(self.operation), variables, rights)
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        if not routing.active():
            return self._execute_operation(serially)
        principal = getattr(self.context_value, "principal", None)
        route = routing.Route(
            actor=principal.actor_id if principal is not None else None,
            may_lag=self.operation.operation is OperationType.QUERY,
        )
        return routing.run(route, lambda: self._execute_operation(serially))

    def _execute_operation(self, serially: bool | None) -> Any:
        key = self._share_key
        shared = _shared(self.root_value) if key is not None else None
        if shared is None or key is None:
            if serially is None and self.operation.operation is OperationType.QUERY:
                return execute_query(self, partial(super().execute_operation, serially))
            return super().execute_operation(serially)
        results = shared.results
        done = results.get(key)
        if done is not None and done[0] is self.operation:
            SUBSCRIPTION_RESULTS.inc("shared")
            result = done[1]
            if isinstance(result, SharedWork):
                # One subscriber going away never cancels the execution the others wait for.
                return result.outcome() if result.done() else result.result()
            return result
        SUBSCRIPTION_RESULTS.inc("executed")
        cast(SharedEvent, self.root_value).prepare(self.context_value)
        result = super().execute_operation(serially)
        if is_awaitable(result):
            shared_result = SharedWork(result)
            results[key] = (self.operation, shared_result)
            return shared_result.result()
        results[key] = (self.operation, result)
        return result
