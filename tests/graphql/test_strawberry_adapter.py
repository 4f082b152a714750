"""What app.graphql.strawberry_adapter assumes of strawberry's internals, checked on the installed strawberry.

When a strawberry upgrade fails one of these, the message names the assumption and the adapter function to
update; nothing else in the app touches these internals.
"""

from __future__ import annotations

import inspect
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError, GraphQLSchema, build_schema, parse
from strawberry.extensions import FieldExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from app.graphql import strawberry_adapter as adapter
from app.graphql.schema import OwnErrorsValidationCache, TaskboardSchema
from app.graphql.shared_execution import SharedEventExecutor
from app.graphql.view import TaskboardGraphQL
from app.graphql.ws_protocols import LegacyWSHandler, TransportWSHandler

seen: dict[str, Any] = {}


class Loud(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs)


class OopsError(Exception):
    pass


@strawberry.type
class Oops:
    message: str


class OopsHandler(strawberry.ExceptionHandler[OopsError, Oops]):
    def handle(self, exception: OopsError, *, field: Any, info: Info) -> Oops:
        return Oops(message=str(exception))


@strawberry.enum
class Color(Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def where(self, info: Info) -> str:
        seen["info"] = info
        seen["variables"] = adapter.variable_values(adapter.raw_info(info))
        return info.field_name

    @strawberry.field
    def times(self, n: int) -> str:
        return self.name * n

    @strawberry.field
    async def later(self) -> str:
        return self.name

    @strawberry.field(extensions=[Loud()])
    def extended(self) -> str:
        return self.name


@strawberry.type
class Query:
    @strawberry.field
    def item(self) -> Item:
        return Item(name="a")

    @strawberry.field
    def risky(self) -> Item | Oops:
        raise OopsError("no")

    @strawberry.field
    def color(self) -> Color:
        return Color.GREEN


class CustomInfo(Info):
    pass


SCHEMA = strawberry.Schema(query=Query, exception_handlers=[OopsHandler()], config=StrawberryConfig(info_class=CustomInfo))
CORE = adapter.core_schema(SCHEMA)


def field_def(type_name: str, name: str) -> Any:
    return CORE.type_map[type_name].fields[name]  # type: ignore[union-attr]


def test_a_strawberry_schema_holds_graphql_cores_schema() -> None:
    assert isinstance(CORE, GraphQLSchema) and "Item" in CORE.type_map, (
        "strawberry.Schema no longer keeps graphql-core's schema as `_schema`: update core_schema"
    )


def test_graphql_cores_schema_leads_back_to_strawberrys_info_class() -> None:
    assert adapter.info_class_of(CORE) is CustomInfo, (
        "graphql-core's schema no longer carries `_strawberry_schema` (with config.info_class): update info_class_of"
    )
    assert adapter.info_class_of(build_schema("type Query { a: Int }")) is Info


def test_each_graphql_core_field_leads_back_to_its_strawberry_field() -> None:
    for name, python_name in (("name", "name"), ("shout", "shout"), ("times", "times")):
        field = adapter.strawberry_field(field_def("Item", name))
        assert field is not None and field.python_name == python_name, (
            f"Item.{name}: graphql-core fields no longer carry their StrawberryField under "
            "GraphQLCoreConverter.DEFINITION_BACKREF: update strawberry_field"
        )


def test_a_field_without_resolver_is_read_as_its_attribute_by_a_wrapper_named_get_basic_result() -> None:
    name = field_def("Item", "name")
    assert getattr(name.resolve, "__name__", None) == adapter.BASIC_RESOLVER_NAME, (
        f"strawberry's resolver of a basic field is no longer named {adapter.BASIC_RESOLVER_NAME!r} "
        f"(it is {getattr(name.resolve, '__name__', None)!r}): update reads_attribute_only"
    )
    assert adapter.reads_attribute_only(adapter.strawberry_field(name), name)  # type: ignore[arg-type]
    assert name.resolve(Item(name="x"), None) == "x"
    shout = field_def("Item", "shout")
    assert not adapter.reads_attribute_only(adapter.strawberry_field(shout), shout)  # type: ignore[arg-type]


def test_other_fields_are_wrapped_by_resolver_closing_over_its_exception_handlers() -> None:
    shout = field_def("Item", "shout")
    assert getattr(shout.resolve, "__name__", None) == adapter.RESOLVER_NAME, (
        f"strawberry's resolver wrapper is no longer named {adapter.RESOLVER_NAME!r} "
        f"(it is {getattr(shout.resolve, '__name__', None)!r}): update plain_method_resolver"
    )
    assert adapter.EXCEPTION_HANDLERS_CELL in shout.resolve.__code__.co_freevars, (
        f"strawberry's resolver wrapper no longer closes over {adapter.EXCEPTION_HANDLERS_CELL!r}: "
        "update plain_method_resolver"
    )
    risky = field_def("Query", "risky")
    assert adapter._closure_value(risky.resolve, adapter.EXCEPTION_HANDLERS_CELL, default=None), (
        "a field whose union an exception handler answers no longer has it in the wrapper's closure"
    )
    assert adapter._closure_value(shout.resolve, adapter.EXCEPTION_HANDLERS_CELL, default=None) == ()


def test_only_a_plain_sync_resolver_is_called_directly() -> None:
    shout = field_def("Item", "shout")
    function = adapter.plain_method_resolver(adapter.strawberry_field(shout), shout)  # type: ignore[arg-type]
    assert function is not None and function(Item(name="a")) == "A"
    assert adapter.takes_self(adapter.strawberry_field(shout))  # type: ignore[arg-type]
    assert adapter.info_parameter_name(adapter.strawberry_field(shout)) is None  # type: ignore[arg-type]
    where = adapter.strawberry_field(field_def("Item", "where"))
    assert adapter.info_parameter_name(where) == "info"  # type: ignore[arg-type]
    for type_name, name in (("Item", "times"), ("Item", "later"), ("Item", "extended"), ("Query", "risky")):
        graphql_field = field_def(type_name, name)
        strawberry_field = adapter.strawberry_field(graphql_field)
        assert adapter.plain_method_resolver(strawberry_field, graphql_field) is None, (  # type: ignore[arg-type]
            f"{type_name}.{name} (arguments, async, a field extension or an exception handler) must go through "
            "strawberry's wrapper"
        )


def test_infos_wrap_graphql_cores_resolve_info_and_can_be_built_like_strawberry_does() -> None:
    result = SCHEMA.execute_sync("query ($on: Boolean = true) { item { where @include(if: $on) } }")
    assert result.errors is None and result.data == {"item": {"where": "where"}}
    info = seen["info"]
    raw = adapter.raw_info(info)
    # What app.graphql.relay reads of it: the field's nodes and the document's fragments.
    assert raw.field_name == "where" and raw.field_nodes and isinstance(raw.fragments, dict), (
        "strawberry's Info no longer wraps graphql-core's resolve info as `_raw_info`: update raw_info"
    )
    assert seen["variables"] == {"on": True}, "get_variable_values no longer gives the coerced variables"
    built = adapter.make_info(CustomInfo, raw, info._field)
    assert isinstance(built, CustomInfo) and adapter.raw_info(built) is raw and built.field_name == "where", (
        "Info(_raw_info=..., _field=...) no longer builds an Info: update make_info"
    )


def test_strawberry_enums_name_their_python_enum_and_output_member_names() -> None:
    color = CORE.type_map["Color"]
    assert adapter.enum_class(color) is Color, "CustomGraphQLEnumType no longer has `wrapped_cls`: update enum_class"
    assert color.coerce_output_value(Color.GREEN) == "GREEN"  # type: ignore[union-attr]
    assert adapter.enum_class(CORE.type_map["String"]) is None


def test_the_validation_cache_is_reachable_per_extension() -> None:
    cache = ValidationCache(maxsize=8)
    assert callable(getattr(cache, "cached_validate_document", None)), (
        "strawberry's ValidationCache no longer has `cached_validate_document`: update validate_with_cache"
    )
    schema = strawberry.Schema(query=Query, extensions=[lambda: OwnErrorsValidationCache(maxsize=8)])
    for _ in range(2):  # the second answer comes from the cache
        result = schema.execute_sync("{ nope }")
        assert result.errors and "nope" in result.errors[0].message


def test_strawberrys_executor_is_graphql_cores_with_the_hooks_shared_execution_overrides() -> None:
    document = parse("{ item { name } }")
    executor = SharedEventExecutor.build(CORE, document)
    assert isinstance(executor, adapter.ExecutorBase)
    for hook in ("build_per_event_executor", "execute_operation", "build_response", "cancellable_iterable"):
        assert callable(getattr(adapter.ExecutorBase, hook, None)), f"the executor has no {hook}()"


@pytest.mark.parametrize(
    ("ours", "hooks"),
    [
        (TaskboardGraphQL, ("get_context", "encode_json", "render_graphql_ide", "on_ws_connect", "execute_single",
                            "process_result", "run", "pick_websocket_subprotocol")),
        (TransportWSHandler, ("handle_message", "handle_connection_init", "handle_subscribe", "run_operation", "send_message")),
        (LegacyWSHandler, ("handle", "handle_message", "handle_connection_init", "handle_start", "send_message")),
        (TaskboardSchema, ("process_errors",)),
        (OwnErrorsValidationCache, ("on_validate",)),
        (adapter.ErrorsHook, ("_process_errors", "_process_result", "on_operation")),
    ],
)
def test_every_hook_our_subclasses_override_still_exists_on_strawberrys_class(ours: type, hooks: tuple[str, ...]) -> None:
    # A renamed hook would leave our override silently never called.
    bases = ours.__mro__[1:]
    for hook in hooks:
        assert any(hook in vars(base) for base in bases if base.__module__.startswith("strawberry")), (
            f"strawberry's {ours.__mro__[1].__name__} (or its bases) no longer defines {hook}(): {ours.__name__} "
            "overrides it"
        )


@pytest.mark.parametrize(
    ("ours", "attributes"),
    [
        (TransportWSHandler, ("view", "websocket", "context", "max_subscriptions_per_connection",
                              "connection_acknowledged", "operations")),
        (LegacyWSHandler, ("view", "websocket", "context", "max_subscriptions_per_connection",
                           "connection_acknowledged", "tasks")),
    ],
)
def test_the_websocket_handlers_keep_the_state_our_limits_read(ours: type, attributes: tuple[str, ...]) -> None:
    # app.graphql.ws_protocols counts running operations and checks the handshake on these attributes.
    source = inspect.getsource(ours.__mro__[2].__init__)
    for attribute in attributes:
        assert f"self.{attribute}" in source, (
            f"strawberry's {ours.__mro__[2].__name__} no longer sets self.{attribute}: update app.graphql.ws_protocols"
        )


def test_the_errors_hook_sees_every_results_errors() -> None:
    class Shout(adapter.ErrorsHook):
        def shape_errors(self, errors: list[Any]) -> list[Any]:
            return [GraphQLError(error.message.upper(), path=error.path) for error in errors]

    @strawberry.type
    class Failing:
        @strawberry.field
        def boom(self) -> int | None:
            raise ValueError("boom")

    result = strawberry.Schema(query=Failing, extensions=[Shout]).execute_sync("{ boom }")
    assert [error.message for error in result.errors or ()] == ["BOOM"], (
        "MaskErrors no longer routes results through _process_result/_process_errors: update ErrorsHook"
    )
