"""Everything Taskboard relies on inside strawberry that strawberry does not promise as API, in one place.

Private attributes, the names of the resolver wrappers strawberry builds, the variables they close over,
private hooks, classes and helpers from its internal modules: direct execution (app.graphql.plans), selection
checks (app.graphql.relay), access control, error shaping, the validation cache and the executor use them
through what is here, never directly. tests/graphql/test_strawberry_adapter.py checks each assumption against
the installed strawberry and says which one broke after an upgrade (pinned: strawberry-graphql 0.341.2); it
also checks that every strawberry hook our subclasses override (view, WebSocket handlers, schema,
extensions) still exists, and the handler state app.graphql.ws_protocols reads.

Where an assumption no longer holds at run time, the functions answer the safe way: a field is not taken
for a plain attribute or a plain method, and direct execution leaves the operation to graphql-core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, GraphQLField, GraphQLResolveInfo, GraphQLSchema
from strawberry import Schema
from strawberry.extensions import MaskErrors, ValidationCache
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.schema.types.base_scalars import isoformat, wrap_parser
from strawberry.types import ExecutionContext, Info
from strawberry.types.field import StrawberryField
from strawberry.types.nodes import get_variable_values

__all__ = [
    "BASIC_RESOLVER_NAME", "CannotGetOperationTypeError", "ErrorsHook", "InvalidOperationTypeError", "EXCEPTION_HANDLERS_CELL", "RESOLVER_NAME", "ExecutorBase", "core_schema", "enum_class",
    "info_class_of", "info_parameter_name", "isoformat", "make_info", "plain_method_resolver", "raw_info",
    "reads_attribute_only", "strawberry_field", "takes_self", "validate_with_cache", "variable_values", "wrap_parser",
]

# strawberry's executor (graphql-core's ExecutionContext with strawberry's result handling); it lives in an
# internal module.
ExecutorBase = StrawberryGraphQLCoreExecutionContext

# The name of the resolver strawberry gives a field without resolver, extensions or exception handlers:
# it returns getattr(source, python_name).
BASIC_RESOLVER_NAME = "_get_basic_result"
# The name of the wrapper strawberry puts around every other field's resolver ...
RESOLVER_NAME = "_resolver"
# ... and the variable it closes over: the field's exception handlers (empty: the resolver is called as is).
EXCEPTION_HANDLERS_CELL = "field_exception_handlers"


class ErrorsHook(MaskErrors):
    """strawberry's MaskErrors with its private hooks turned into one: `shape_errors` sees every result's errors
    (operations, subscription events, streamed results) and returns what the client gets."""

    def shape_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        raise NotImplementedError

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return self.shape_errors(errors)

    def _process_result(self, result: object) -> None:
        # MaskErrors checks a runtime Protocol here, which costs more than the rest of a subscription
        # event's delivery; an attribute lookup says the same.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self.shape_errors(errors)  # type: ignore[attr-defined]


def core_schema(schema: Schema) -> GraphQLSchema:
    """graphql-core's schema inside a strawberry schema."""
    return schema._schema


def info_class_of(schema: GraphQLSchema) -> type[Info]:
    """The Info class resolvers of this (graphql-core) schema receive: its strawberry schema's, else Info."""
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    return strawberry_schema.config.info_class if strawberry_schema is not None else Info


def make_info(info_class: type[Info], raw: GraphQLResolveInfo, field: StrawberryField) -> Info:
    """The Info strawberry's wrapper would pass a resolver for graphql-core's resolve info."""
    return info_class(_raw_info=raw, _field=field)


def raw_info(info: Info) -> GraphQLResolveInfo:
    """graphql-core's resolve info inside a strawberry Info."""
    return info._raw_info


def variable_values(raw: GraphQLResolveInfo) -> dict[str, Any]:
    """The operation's coerced variables, as strawberry reads them for directive arguments."""
    return get_variable_values(raw)


def strawberry_field(field_def: GraphQLField) -> StrawberryField | None:
    """The strawberry field a graphql-core field was built from (None for fields strawberry did not build)."""
    field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return field if isinstance(field, StrawberryField) else None


def reads_attribute_only(field: StrawberryField, field_def: GraphQLField) -> bool:
    """Whether strawberry resolves the field by reading its python attribute: no resolver, no extensions, no
    exception handlers, the default getattr."""
    return (
        field.is_basic_field
        and field.default_resolver is getattr
        and getattr(field_def.resolve, "__name__", None) == BASIC_RESOLVER_NAME
    )


def plain_method_resolver(field: StrawberryField, field_def: GraphQLField) -> Callable[..., Any] | None:
    """The function to call directly when strawberry's wrapper would only add `self` and `info` to it: a sync
    resolver without arguments, field extensions or exception handlers, under strawberry's own wrapper.
    None otherwise (the wrapper is then called, as graphql-core would)."""
    resolver = field.base_resolver
    resolve = field_def.resolve
    if (
        resolver is None
        or field.extensions
        or field.arguments
        or resolver.is_async
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
        or getattr(resolve, "__name__", None) != RESOLVER_NAME
        or _closure_value(resolve, EXCEPTION_HANDLERS_CELL, default=True)
        or not callable(resolver.wrapped_func)
    ):
        return None
    return resolver.wrapped_func


def takes_self(field: StrawberryField) -> bool:
    """Whether the field's resolver takes the source as `self`."""
    return field.base_resolver is not None and field.base_resolver.self_parameter is not None


def info_parameter_name(field: StrawberryField) -> str | None:
    """The name of the resolver's Info parameter, None when it takes none."""
    info = field.base_resolver.info_parameter if field.base_resolver is not None else None
    return info.name if info is not None else None


def enum_class(type_: object) -> type | None:
    """The python Enum behind one of strawberry's GraphQL enums (None for other types). strawberry outputs a
    member as the GraphQL name of the first value equal to the member's value."""
    return type_.wrapped_cls if isinstance(type_, CustomGraphQLEnumType) else None


def validate_with_cache(cache: ValidationCache, context: ExecutionContext) -> list[GraphQLError] | None:
    """The validation errors of the operation's document, from strawberry's LRU cache behind `cache` (one list
    shared by every operation of the same document)."""
    return cache.cached_validate_document(core_schema(context.schema), context.graphql_document, context.validation_rules)


def _closure_value(function: object, name: str, *, default: object) -> object:
    """A variable a strawberry wrapper closes over; `default` when it has none by that name."""
    code, closure = getattr(function, "__code__", None), getattr(function, "__closure__", None)
    if code is None or closure is None or name not in code.co_freevars:
        return default
    return closure[code.co_freevars.index(name)].cell_contents
