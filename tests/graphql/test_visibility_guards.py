"""Rights-dependent fields are declared (VisibleTo), so one shared subscription execution can be masked per
subscriber exactly; a document that decides by rights outside a declaration falls back to per-rights execution."""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry
from graphql import GraphQLList, execute, parse, GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from prometheus_client import REGISTRY
from strawberry.extensions import ParserCache
from strawberry.types import Info

from app.auth import permissions
from app.auth.principal import Principal, Role
from app.common.errors import Forbidden
from app.common.ports import Port
from app.graphql.context import Context
from app.graphql.shared_execution import SharedEventExecutor, SharedExecutions
from app.graphql.strawberry_adapter import core_schema, strawberry_field
from app.graphql.shared_execution import SharedOutcome
from app.graphql.visibility import Guard, Visibility, VisibleTo, denied_positions, mask
from app.schema import schema as app_schema
from app.settings import Settings
from app.users.resolvers import UserQuery

ADMIN = Principal(user_id="a" * 24, role=Role.ADMIN)
ALICE = Principal(user_id="1" * 24, role=Role.MEMBER)
BOB = Principal(user_id="2" * 24, role=Role.MEMBER)
NOBODY = Principal(user_id=None, role=None)


# ------------------------------------------------------------------- every rights-reading field is declared


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def reads_rights(function: Callable[..., Any], seen: set[int] | None = None) -> bool:
    """Whether function (or an app function, module function or port it calls) reads the caller's principal or
    asks the permission matrix."""
    seen = set() if seen is None else seen
    function = inspect.unwrap(function)
    code = getattr(function, "__code__", None)
    if code is None or id(code) in seen:
        return False
    seen.add(id(code))
    names = set(_code_names(code))
    if "principal" in names:
        return True
    scope = getattr(function, "__globals__", {})
    for name in names:
        target = scope.get(name)
        if target is permissions or getattr(target, "__module__", None) == permissions.__name__:
            return True
        callees: list[Any] = [target]
        if isinstance(target, types.ModuleType) and target.__name__.startswith("app."):
            callees = [getattr(target, other, None) for other in names]
        for callee in callees:
            if isinstance(callee, Port):
                callee = callee._impl  # plugged by app.schema
            module = getattr(callee, "__module__", None) or ""
            if callable(callee) and module.startswith("app.") and reads_rights(callee, seen):
                return True
    return False


def _object_types(schema: GraphQLSchema, root: GraphQLObjectType) -> Iterator[GraphQLObjectType]:
    """Every object type a document under root can reach."""
    todo, seen = [root], set()
    while todo:
        current = todo.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        yield current
        for field_def in current.fields.values():
            target = field_def.type
            while isinstance(target, GraphQLNonNull | GraphQLList):
                target = target.of_type
            if isinstance(target, GraphQLObjectType):
                todo.append(target)


def fields_under_subscription() -> list[tuple[str, str, Any]]:
    core = core_schema(app_schema)
    assert core.subscription_type is not None
    return [(object_type.name, name, strawberry_field(field_def))
            for object_type in _object_types(core, core.subscription_type)
            for name, field_def in object_type.fields.items()]


def test_the_detector_sees_a_resolver_that_reads_rights() -> None:
    def old_email(self: Any, info: Info) -> str | None:
        return self.email if permissions.can_see_email(info.context.principal, self.id) else None

    assert reads_rights(old_email)
    assert reads_rights(UserQuery.__strawberry_definition__.get_field("me").base_resolver.wrapped_func)
    assert not reads_rights(lambda user: user.id)


def test_every_field_a_subscription_reaches_that_depends_on_rights_is_guarded_by_visible_to() -> None:
    unguarded, guarded = [], []
    for type_name, name, definition in fields_under_subscription():
        if definition is None:
            continue
        if any(isinstance(extension, VisibleTo) for extension in definition.extensions):
            guarded.append((type_name, name))
            continue
        resolver = definition.base_resolver
        if type_name != "Subscription" and resolver is not None and reads_rights(resolver.wrapped_func):
            unguarded.append((type_name, name))
    # The subscription field itself decides what a subscriber hears of (deleted tasks, filters) before any
    # execution; every field below it that reads rights must be declared so the mask covers it.
    assert unguarded == []
    assert ("User", "email") in guarded


def test_only_nullable_fields_can_be_guarded() -> None:
    with pytest.raises(TypeError, match="nullable"):
        @strawberry.type
        class Broken:
            @strawberry.field(extensions=[VisibleTo(permissions.can_see_email, subject=lambda source: source)])
            def secret(self) -> str:
                return "x"

        strawberry.Schema(query=Broken)


# ----------------------------------------------------------------- masking equals executing as the caller


def _own(principal: Principal, owner: str) -> bool:
    return principal.is_admin or principal.user_id == owner


@strawberry.type
class Note:
    text: str


@strawberry.type
class Secret:
    owner: str

    @strawberry.field(extensions=[VisibleTo(_own, subject=lambda s: s.owner, denied=lambda: Forbidden("not yours"))])
    def code(self) -> str | None:
        return f"code-{self.owner}"

    @strawberry.field(extensions=[VisibleTo(_own, subject=lambda s: s.owner)])
    async def note(self) -> Note | None:
        return Note(text=f"note-{self.owner}")

    @strawberry.field(extensions=[VisibleTo(_own, subject=lambda s: s.owner)])
    def broken(self) -> Note | None:
        raise ValueError("broken for everyone")


@strawberry.type
class SecretQuery:
    @strawberry.field
    def secrets(self) -> list[Secret]:
        return [Secret(owner=ALICE.user_id), Secret(owner=BOB.user_id)]  # type: ignore[arg-type]


@dataclass
class PlainContext:
    principal: Principal
    visibility: Visibility | None = None


def _comparable(result: Any) -> tuple[Any, list[dict[str, Any]]]:
    return result.data, sorted((error.formatted for error in result.errors or ()), key=lambda e: str(e["path"]))


async def test_a_masked_shared_result_is_what_executing_as_each_caller_gives_errors_included() -> None:
    schema = strawberry.Schema(query=SecretQuery)
    query = "{ secrets { owner code note { text } broken { text } } }"
    shared_context = PlainContext(principal=ADMIN, visibility=Visibility())
    shared = await _execute(schema, query, shared_context)
    assert shared_context.visibility is not None and len(shared_context.visibility.guards) == 6
    for principal in (ADMIN, ALICE, BOB, NOBODY):
        own = await _execute(schema, query, PlainContext(principal=principal))
        seen = mask(shared, _denied(shared_context.visibility.guards, principal))
        assert _comparable(seen) == _comparable(own), principal
    # the masking is real: a member sees one code, and the other's FORBIDDEN error where the other's code was
    alice = mask(shared, _denied(shared_context.visibility.guards, ALICE))
    assert [s["code"] for s in alice.data["secrets"]] == [f"code-{ALICE.user_id}", None]
    assert [e.path for e in alice.errors if e.message == "not yours"] == [["secrets", 1, "code"]]
    assert mask(shared, _denied(shared_context.visibility.guards, ADMIN)) is shared


def _denied(guards: list[Guard], principal: Principal) -> list[Guard]:
    return [guards[position] for position in denied_positions(guards, principal)]


async def test_callers_denied_the_same_fields_share_one_masked_result_unless_it_has_errors() -> None:
    schema = strawberry.Schema(query=SecretQuery)
    shared_context = PlainContext(principal=ADMIN, visibility=Visibility())
    shared = await _execute(schema, "{ secrets { owner note { text } } }", shared_context)
    outcome = SharedOutcome(shared, shared_context.visibility.guards)
    assert outcome.for_principal(ADMIN) is shared
    # NOBODY and a second caller with no rights are denied the same notes: one object between them
    stranger = Principal(user_id="someone-else", role=Role.MEMBER)
    assert outcome.for_principal(NOBODY) is outcome.for_principal(stranger)
    assert outcome.for_principal(NOBODY) is not shared and outcome.for_principal(NOBODY).errors is None
    assert outcome.for_principal(ALICE) is not outcome.for_principal(NOBODY)  # Alice sees her own note
    assert _comparable(outcome.for_principal(ALICE)) == _comparable(
        await _execute(schema, "{ secrets { owner note { text } } }", PlainContext(principal=ALICE)))
    # a denial that adds an error is built per caller (errors are shaped per result downstream)
    with_errors = PlainContext(principal=ADMIN, visibility=Visibility())
    errored = SharedOutcome(await _execute(schema, "{ secrets { code } }", with_errors), with_errors.visibility.guards)
    assert errored.for_principal(NOBODY).errors and errored.for_principal(NOBODY) is not errored.for_principal(NOBODY)


async def _execute(schema: strawberry.Schema, query: str, context: Any) -> Any:
    result = execute(core_schema(schema), parse(query), context_value=context)
    return await result if inspect.isawaitable(result) else result


# ------------------------------------------------------------- a document reading rights falls back, exactly


@dataclass(eq=False)
class Event:
    shared_executions: SharedExecutions = field(default_factory=SharedExecutions)

    def prepare(self, context: Any) -> None:
        pass


@strawberry.type
class EventType:
    @strawberry.field
    def whoami(self, info: Info) -> str | None:
        return info.context.principal.user_id  # decides by rights without a declaration


def _unmaskable() -> float:
    return REGISTRY.get_sample_value("taskboard_subscription_event_masking_total", {"outcome": "unmaskable"}) or 0.0


async def test_a_document_that_reads_the_principal_undeclared_is_executed_per_rights(settings: Settings) -> None:
    queues: dict[str, asyncio.Queue[Event]] = {}

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def events(self, info: Info) -> AsyncGenerator[EventType, None]:
            queue = queues[info.context.principal.rights_key()] = asyncio.Queue()
            while True:
                yield await queue.get()  # type: ignore[misc]

    # One parsed document for every subscriber, as the app's own parser cache gives
    schema = strawberry.Schema(query=SecretQuery, subscription=Subscription,
                               extensions=[lambda: ParserCache(maxsize=10)],
                               execution_context_class=SharedEventExecutor)
    before = _unmaskable()
    streams = []
    for principal in (ALICE, BOB, ADMIN):
        context = Context(request=None, response=None, settings=settings, principal=principal)  # type: ignore[arg-type]
        streams.append(await schema.subscribe("subscription { events { whoami } }", context_value=context))
    try:
        for _ in range(2):  # the event that finds it out, and the next one
            pending = [asyncio.ensure_future(anext(stream)) for stream in streams]
            while len(queues) < len(streams):  # each generator waits on its queue
                await asyncio.sleep(0.01)
            event = Event()
            for queue in queues.values():
                queue.put_nowait(event)
            results = await asyncio.wait_for(asyncio.gather(*pending), 10)
            assert [r.data for r in results] == [{"events": {"whoami": p.user_id}} for p in (ALICE, BOB, ADMIN)]
    finally:
        for stream in streams:
            await stream.aclose()  # type: ignore[union-attr]
    assert _unmaskable() == before + 1
