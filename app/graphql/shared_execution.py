"""One execution per subscription event for every subscriber of a document, masked per subscriber.

graphql-core executes a subscription's selection set once per event and per subscriber. A thousand
subscribers with the same document and variables would run the same execution a thousand times; this
executor runs it once and hands every one of them that result, as each of them may see it.

An event takes part when its payload (the value the subscription field yields) is a `SharedEvent`, i.e.
its `shared_executions` is a `SharedExecutions`: the executions already done for it, keyed by
(operation, variables, rights). Other payloads execute per subscriber, exactly as graphql-core does.

Across rights (SUBSCRIPTIONS_SHARE_ACROSS_RIGHTS, on by default) the rights part of the key is ACROSS_RIGHTS:
the one execution runs with the most privileged principal and a `SharedEventContext`, whose Visibility record
notes every field behind a `VisibleTo` guard (app.graphql.visibility); each subscriber then gets the result
with the fields its own rights deny nulled, as an execution as that subscriber would have answered them.
What a subscriber may hear of at all (deleted tasks, filters) is decided before execution, by the
subscription's own generator. A document whose execution reads the principal outside a guard (a resolver
deciding by rights in a way no mask can reproduce) is unmaskable: that event and every later one of the
document execute once per set of rights instead (`taskboard_subscription_event_masking_total{outcome=
"unmaskable"}`).

Every execution runs under a read route (app.stores.routing) when a store routes reads: a query operation's
reads may come from a replica, a mutation's and a subscription event's from the primary.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine
from copy import copy
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar, cast

import orjson
from graphql import ExecutionResult, OperationDefinitionNode, OperationType
from graphql.execution.executor import CollectedErrors, Executor
from graphql.pyutils import Undefined, is_awaitable

from app.auth.principal import Principal, Role
from app.common.shared import SharedWork
from app.graphql import direct_delivery
from app.graphql.context import Context, SharedEventContext
from app.graphql.direct_execution import execute_query
from app.graphql.strawberry_adapter import ExecutorBase
from app.graphql.visibility import Guard, denied_positions, mask
from app.metrics import SUBSCRIPTION_MASKING, SUBSCRIPTION_RESULTS
from app.stores import routing

T = TypeVar("T")
ShareKey = tuple[int, bytes, str]
# The rights part of a key shared by every subscriber, whatever its rights (no principal has this rights key).
ACROSS_RIGHTS = "*across-rights*"
# Who runs an execution shared across rights: sees everything any subscriber may (admins see everything).
PRIVILEGED = Principal(user_id=None, role=Role.ADMIN, system_name="system:shared-subscription-event")
_UNMASKABLE_KEPT = 1024


@dataclass(eq=False, slots=True)
class SharedOutcome:
    """An execution shared across rights: its result (None when unmaskable) and the guarded fields it resolved."""

    result: ExecutionResult | None
    guards: list[Guard]
    # Masked results without errors by the guards they deny (positions in `guards`): every subscriber denied
    # the same fields gets the same object (and app.graphql.direct_delivery encodes it once).
    _masked: dict[tuple[int, ...], ExecutionResult] = field(default_factory=dict)

    def for_principal(self, principal: Principal) -> ExecutionResult:
        """The result as principal may see it."""
        assert self.result is not None
        key = denied_positions(self.guards, principal)
        if not key:
            return self.result
        seen = self._masked.get(key)
        if seen is None:
            seen = mask(self.result, [self.guards[position] for position in key])
            if not seen.errors:
                self._masked[key] = seen
        if seen is not self.result:
            SUBSCRIPTION_MASKING.inc_soon("masked")
        return seen


Entry = ExecutionResult | SharedOutcome | SharedWork[ExecutionResult] | SharedWork[SharedOutcome]


@dataclass(eq=False)
class SharedExecutions:
    """The results (or the running execution) of one event's payload, by share key."""

    results: dict[ShareKey, tuple[Any, Entry]] = field(default_factory=dict)


# Operations found unmaskable (by id, with the node itself against a reused id), most recent last.
_unmaskable: OrderedDict[int, OperationDefinitionNode] = OrderedDict()


def _is_unmaskable(operation: OperationDefinitionNode) -> bool:
    return _unmaskable.get(id(operation)) is operation


def _mark_unmaskable(operation: OperationDefinitionNode) -> None:
    if not _is_unmaskable(operation):
        SUBSCRIPTION_MASKING.inc_soon("unmaskable")
    _unmaskable[id(operation)] = operation
    _unmaskable.move_to_end(id(operation))
    while len(_unmaskable) > _UNMASKABLE_KEPT:
        _unmaskable.popitem(last=False)


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


def _shares_across_rights(context: Any) -> bool:
    """Whether this subscriber's events may be executed for subscribers of other rights and masked."""
    settings = getattr(context, "settings", None)
    return isinstance(context, Context) and bool(getattr(settings, "subscriptions_share_across_rights", False))


def _result_of(entry: Any) -> Any:
    """An entry's result, or an awaitable of it (one subscriber going away never cancels the shared work)."""
    if isinstance(entry, SharedWork):
        return entry.outcome() if entry.done() else entry.result()
    return entry


@dataclass(eq=False, slots=True)
class _Executed:
    """An event already executed (by `_delivering_directly`): stands in for its per-event executor."""

    result: ExecutionResult

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


class SharedEventExecutor(ExecutorBase):
    """strawberry's executor, executing a `SharedEvent` once per share key; queries try their compiled plan
    first (app.graphql.direct_execution)."""

    _share_key: ShareKey | None = None
    # The event whose shared execution this subscriber started inline (`_deliver_now`) and did not deliver.
    _started_inline: SharedExecutions | None = None

    def cancellable_iterable(self, iterable: AsyncIterable[T]) -> AsyncIterable[T]:
        source = super().cancellable_iterable(iterable)
        sink = direct_delivery.current_sink()
        if sink is None or self.operation.operation is not OperationType.SUBSCRIPTION:
            return source
        sink.deliver_now = partial(self._deliver_now, sink)
        return cast(AsyncIterable[T], self._delivering_directly(source, sink))

    def _deliver_now(self, sink: direct_delivery.DirectSink, payload: Any) -> bool:
        """What `_delivering_directly` does with a payload, when none of it has to wait: the result already
        shared (or executed here without awaiting), without errors, written to the socket. False, having
        sent nothing, when the payload has to take the usual way; an execution this started and could not
        finish goes on, and the usual way finds it (`_once`)."""
        shared = _shared(payload)
        key = self._share_key
        if not sink.primed or shared is None or key is None:
            return False
        result = self._finished(shared, count=False)
        if result is not None:
            if result.errors or not sink.write_now(result.data, path="inline"):
                return False
            SUBSCRIPTION_RESULTS.inc_soon("shared")
            return True
        if routing.active() or self._entry_key(key) in shared.results:
            # Under a read route an execution awaits in its own task (routing.run); a running (or failed)
            # execution is the usual way's to wait for.
            return False
        result = self.build_per_event_executor(payload).execute_operation(False)
        if not is_awaitable(result) and not result.errors and sink.write_now(result.data, path="inline"):
            return True
        if is_awaitable(result):
            # A coroutine that never ran (the entry's result()): the shared work it would await runs on.
            cast(Coroutine[Any, Any, Any], result).close()
        self._started_inline = shared  # counted as executed here: the usual way must not count it as shared
        return False

    def _entry_key(self, key: ShareKey) -> ShareKey:
        """The key this subscriber's result is first looked for under (across rights, or its own rights)."""
        if _shares_across_rights(self.context_value) and not _is_unmaskable(self.operation):
            return (key[0], key[1], ACROSS_RIGHTS)
        return key

    async def _delivering_directly(self, source: AsyncIterable[Any], sink: direct_delivery.DirectSink) -> Any:
        """The source events, less the shared ones executed and sent here (app.graphql.direct_delivery); an
        event executed here whose result has errors goes on as `_Executed`, for strawberry to deliver."""
        async for payload in source:
            shared = _shared(payload)
            if not sink.primed or shared is None:
                yield payload
                continue
            result = self._finished(shared)
            if result is None:
                result = self.build_per_event_executor(payload).execute_operation(False)
                if is_awaitable(result):
                    result = await result
            if not result.errors:
                try:
                    await sink.deliver(result.data)
                    continue
                except Exception:  # noqa: BLE001 - the socket went away: strawberry's own send fails its way
                    pass
            yield _Executed(result)

    def _finished(self, shared: SharedExecutions, *, count: bool = True) -> ExecutionResult | None:
        """This subscriber's result of an event when another subscriber's execution already finished it (no
        per-event executor needed); None when it has to execute (or wait) the usual way. `count=False`: the
        caller counts it as shared once it is used."""
        key = self._share_key
        if key is None:
            return None
        entry_key = self._entry_key(key)
        entry = self._finished_entry(shared, entry_key)
        if entry_key is not key:
            if not isinstance(entry, SharedOutcome) or entry.result is None:
                return None
            result = entry.for_principal(self.context_value.principal)
        elif isinstance(entry, ExecutionResult):
            result = entry
        else:
            return None
        if count and self._started_inline is not shared:
            SUBSCRIPTION_RESULTS.inc_soon("shared")
        return result

    def _finished_entry(self, shared: SharedExecutions, key: ShareKey) -> Any:
        done = shared.results.get(key)
        if done is None or done[0] is not self.operation:
            return None
        entry = done[1]
        if isinstance(entry, SharedWork):
            if not entry.done() or entry.failed():
                return None  # running, or failed: the usual way waits for it or raises its error
            return entry.outcome()
        return entry

    def build_per_event_executor(self, payload: Any) -> Executor:
        if isinstance(payload, _Executed):
            return cast(Executor, payload)
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
        if _shares_across_rights(self.context_value) and not _is_unmaskable(self.operation):
            return self._across_rights(shared, (key[0], key[1], ACROSS_RIGHTS), serially)
        return _result_of(self._once(shared, key, lambda: self._per_rights(serially)))

    def _once(self, shared: SharedExecutions, key: ShareKey, start: Callable[[], Any]) -> Any:
        """The entry of `key` for this event: started by `start()` when it is the first, else the one there."""
        done = shared.results.get(key)
        if done is not None and done[0] is self.operation:
            if self._started_inline is not shared:
                SUBSCRIPTION_RESULTS.inc_soon("shared")
            return done[1]
        SUBSCRIPTION_RESULTS.inc_soon("executed")
        entry = start()
        shared.results[key] = (self.operation, entry)
        return entry

    def _per_rights(self, serially: bool | None) -> Any:
        """One execution with this subscriber's own context, for every subscriber of the same rights."""
        cast(SharedEvent, self.root_value).prepare(self.context_value)
        result = super().execute_operation(serially)
        return SharedWork(result) if is_awaitable(result) else result

    def _across_rights(self, shared: SharedExecutions, key: ShareKey, serially: bool | None) -> Any:
        principal: Principal = self.context_value.principal
        entry = self._once(shared, key, lambda: self._for_everyone(serially))
        if isinstance(entry, SharedWork):
            if not entry.done():
                return self._when_done(entry, shared, principal, serially)
            entry = entry.outcome()
        return self._as_seen_by(entry, shared, principal, serially)

    async def _when_done(
        self, work: SharedWork[SharedOutcome], shared: SharedExecutions, principal: Principal, serially: bool | None
    ) -> ExecutionResult:
        result = self._as_seen_by(await work.result(), shared, principal, serially)
        return await result if is_awaitable(result) else result

    def _as_seen_by(
        self, outcome: SharedOutcome, shared: SharedExecutions, principal: Principal, serially: bool | None
    ) -> Any:
        if outcome.result is not None:
            return outcome.for_principal(principal)
        # Unmaskable: this subscriber's rights get their own execution, shared with the same rights.
        key = self._share_key
        assert key is not None
        return _result_of(self._once(shared, key, lambda: self._per_rights(serially)))

    def _for_everyone(self, serially: bool | None) -> SharedOutcome | SharedWork[SharedOutcome]:
        """One execution with the most privileged rights, noting the guarded fields it resolved."""
        context = SharedEventContext(self.context_value, PRIVILEGED)
        runner = copy(self)
        runner.context_value = context
        runner.collected_errors = CollectedErrors()
        cast(SharedEvent, self.root_value).prepare(context)
        result = ExecutorBase.execute_operation(runner, serially)
        if is_awaitable(result):
            return SharedWork(self._outcome_later(cast(Awaitable[ExecutionResult], result), context))
        return self._outcome(cast(ExecutionResult, result), context)

    async def _outcome_later(self, result: Awaitable[ExecutionResult], context: SharedEventContext) -> SharedOutcome:
        return self._outcome(await result, context)

    def _outcome(self, result: ExecutionResult, context: SharedEventContext) -> SharedOutcome:
        if context.rights_read:
            _mark_unmaskable(self.operation)
            return SharedOutcome(None, [])
        return SharedOutcome(result, context.visibility.guards)
