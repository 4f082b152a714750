"""Execution plans: a query operation compiled once into the fields to resolve and how to complete each value.

A plan is what graphql-core's executor works out again for every row of every request: which fields a
selection set holds after fragments and response-key merging (graphql-core's own `collect_fields` and
`collect_subfields` build it here, so the grouping is exactly theirs), which resolver each field calls,
and how its value completes (leaf coercion, list, object). app.graphql.direct_execution runs it.

Only what the plan can run exactly like graphql-core gets one: no directives anywhere (@include/@skip
depend on variables, others change execution), no fragment variables, no abstract types, no
introspection beyond `__typename`, no `is_type_of` checks. Everything else gets None: normal execution.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLID,
    GraphQLString,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.executor import Executor
from graphql.pyutils import Path
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

from app.graphql import strawberry_adapter as strawberry_internals
from app.graphql.document_walk import DocumentWalk, Visit

PLAN_CACHE_SIZE = 256


class FieldKind(Enum):
    ATTRIBUTE = "attribute"  # a strawberry field without resolver: the source's attribute
    METHOD = "method"  # a plain sync resolver, called as strawberry's wrapper would call it
    RESOLVER = "resolver"  # the graphql-core field's resolve function (strawberry's wrapper)
    TYPENAME = "typename"  # __typename: the parent type's name


class OutputKind(Enum):
    LEAF = "leaf"
    LIST = "list"
    OBJECT = "object"


@dataclass(frozen=True, slots=True, eq=False)
class Output:
    """How a value of one output type completes."""

    kind: OutputKind
    non_null: bool
    coerce: Callable[[Any], Any] | None = None  # LEAF: the scalar's or enum's own coerce_output_value
    # LEAF shortcuts that give exactly what `coerce` gives: values of this exact class are their own output
    # (String and ID: str, Boolean: bool) ...
    passthrough: type | None = None
    # ... and members of this exact enum class output the GraphQL name of the first value equal to theirs.
    enum_class: type | None = None
    enum_names: dict[Any, str] | None = None
    item: Output | None = None  # LIST
    fields: tuple[FieldPlan, ...] = ()  # OBJECT


@dataclass(frozen=True, slots=True, eq=False)
class FieldPlan:
    """One response key of a selection set."""

    key: str
    kind: FieldKind
    name: str  # ATTRIBUTE: the python attribute; TYPENAME: the parent type's name; else the field name
    output: Output | None = None  # None for TYPENAME
    # RESOLVER: graphql-core's resolve(source, info, **args); METHOD: the resolver function itself
    resolve: Callable[..., Any] | None = None
    method: Method | None = None
    field_def: GraphQLField | None = None
    details: tuple[FieldDetails, ...] = ()
    parent_type: GraphQLObjectType | None = None
    # The path of the field in the first row of every list above it: the resolve info is built once per
    # field, not per row (resolvers here never read it; errors never come from a plan).
    path: Path | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Method:
    """How strawberry calls a sync resolver without arguments: the source as `self`, info by name."""

    takes_self: bool
    info_name: str | None
    info_class: type[Info]
    field: StrawberryField

    def keywords(self, info: GraphQLResolveInfo) -> dict[str, Any]:
        """What strawberry's wrapper passes besides `self`: its Info around graphql-core's, by name."""
        if self.info_name is None:
            return {}
        return {self.info_name: strawberry_internals.make_info(self.info_class, info, self.field)}


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """The root fields of one query operation."""

    fields: tuple[FieldPlan, ...]


class Unsupported(Exception):
    """The operation uses something a plan does not run exactly like graphql-core."""


class _PlainSelections(Visit[None]):
    """Raises Unsupported at the first directive, unknown fragment or fragment with variables (one linear
    walk: each fragment once)."""

    def __init__(self, fragments: dict[str, FragmentDetails]) -> None:
        self.details = fragments

    def enter_field(self, node: FieldNode, context: None) -> tuple[Any, Any]:
        _no_directives(node)
        return None, None

    def enter_inline(self, node: InlineFragmentNode, context: None) -> Any:
        _no_directives(node)
        return context

    def enter_spread(self, node: FragmentSpreadNode, fragment: FragmentDefinitionNode | None, context: None) -> Any:
        _no_directives(node)
        name = node.name.value
        details = self.details.get(name)
        if fragment is None or details is None:
            raise Unsupported(f"unknown fragment {name}")
        if fragment.directives or fragment.variable_definitions or details.variable_signatures:
            raise Unsupported(f"fragment {name} has directives or variables")
        return context


def _no_directives(node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> None:
    if node.directives:
        raise Unsupported(f"directive @{node.directives[0].name.value}")


def check_selections(executor: Executor) -> DocumentWalk[None, None]:
    """Raises Unsupported when the operation's selections need graphql-core's execution; the walk it took."""
    walk = DocumentWalk(_PlainSelections(executor.fragments), executor.fragment_definitions)
    walk.walk(executor.operation.selection_set, None)
    return walk


class _Compiler:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.schema: GraphQLSchema = executor.schema
        self.fragments = executor.fragments
        self.variable_values = executor.variable_values
        self.operation: OperationDefinitionNode = executor.operation
        self.hide_suggestions = executor.hide_suggestions
        self.info_class: type[Info] = strawberry_internals.info_class_of(executor.schema)

    def plan(self) -> Plan:
        operation = self.operation
        if operation.operation is not OperationType.QUERY or operation.directives:
            raise Unsupported("not a query, or a directive on the operation")
        check_selections(self.executor)
        root_type = self.schema.query_type
        if root_type is None:
            raise Unsupported("no query type")
        grouped = collect_fields(
            self.schema, self.fragments, self.variable_values, root_type, operation, self.hide_suggestions
        ).grouped_field_set
        return Plan(self._fields(root_type, grouped, None))

    def _fields(
        self, parent_type: GraphQLObjectType, grouped: dict[str, list[FieldDetails]], path: Path | None
    ) -> tuple[FieldPlan, ...]:
        return tuple(self._field(parent_type, key, details, path) for key, details in grouped.items())

    def _field(
        self, parent_type: GraphQLObjectType, key: str, details: list[FieldDetails], parent_path: Path | None
    ) -> FieldPlan:
        name = details[0].node.name.value
        if name == "__typename":
            return FieldPlan(key=key, kind=FieldKind.TYPENAME, name=parent_type.name)
        field_def = parent_type.fields.get(name)
        if field_def is None or field_def.resolve is None:
            raise Unsupported(f"field {parent_type.name}.{name}")
        path = Path(parent_path, key, parent_type.name)
        output = self._output(field_def.type, details, path)
        kind, resolve, method = FieldKind.RESOLVER, field_def.resolve, None
        field = strawberry_internals.strawberry_field(field_def)
        if field is not None:
            if strawberry_internals.reads_attribute_only(field, field_def):
                return FieldPlan(key=key, kind=FieldKind.ATTRIBUTE, name=field.python_name, output=output)
            function = strawberry_internals.plain_method_resolver(field, field_def)
            if function is not None:
                kind, resolve = FieldKind.METHOD, function
                method = Method(
                    takes_self=strawberry_internals.takes_self(field),
                    info_name=strawberry_internals.info_parameter_name(field),
                    info_class=self.info_class,
                    field=field,
                )
        return FieldPlan(
            key=key, kind=kind, name=name, output=output, resolve=resolve, method=method, field_def=field_def,
            details=tuple(details), parent_type=parent_type, path=path,
        )

    def _output(self, type_: GraphQLOutputType, details: list[FieldDetails], path: Path) -> Output:
        non_null = is_non_null_type(type_)
        if non_null:
            type_ = type_.of_type  # type: ignore[union-attr]
        if is_list_type(type_):
            item = self._output(type_.of_type, details, path.add_key(0, None))  # type: ignore[union-attr]
            return Output(OutputKind.LIST, non_null, item=item)
        if is_leaf_type(type_):
            return _leaf(type_, non_null)
        if is_object_type(type_) and type_.is_type_of is None:  # type: ignore[union-attr]
            object_type: GraphQLObjectType = type_  # type: ignore[assignment]
            grouped = collect_subfields(
                self.schema, self.fragments, self.variable_values, self.operation, object_type, details,
                self.hide_suggestions,
            ).grouped_field_set
            return Output(OutputKind.OBJECT, non_null, fields=self._fields(object_type, grouped, path))
        raise Unsupported(f"output type {type_}")


def compile_plan(executor: Executor) -> Plan | None:
    """The plan of the executor's operation; None when the operation needs graphql-core's execution."""
    try:
        return _Compiler(executor).plan()
    except (Unsupported, RecursionError):  # too deep: graphql-core reports it as it always does
        return None


class PlanCache:
    """Plans by operation node (the parser cache hands out the same node for the same text), bounded LRU."""

    def __init__(self, maxsize: int = PLAN_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        # The node and schema are kept with the plan: their ids cannot be reused while the entry lives.
        self._entries: OrderedDict[tuple[int, int], tuple[OperationDefinitionNode, GraphQLSchema, Plan | None]]
        self._entries = OrderedDict()

    def get(self, executor: Executor) -> Plan | None:
        """The cached plan (compiled on a miss); None when the operation has none."""
        key = (id(executor.operation), id(executor.schema))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is executor.operation and entry[1] is executor.schema:
            self._entries.move_to_end(key)
            return entry[2]
        plan = compile_plan(executor)
        self._entries[key] = (executor.operation, executor.schema, plan)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return plan

    def __len__(self) -> int:
        return len(self._entries)


PLANS = PlanCache()


_PASSTHROUGH = {id(GraphQLString): str, id(GraphQLID): str, id(GraphQLBoolean): bool}


def _leaf(type_: Any, non_null: bool) -> Output:
    """A scalar's or enum's completion, with the shortcuts its own coercion allows."""
    enum_class = strawberry_internals.enum_class(type_)
    if enum_class is not None:
        names: dict[Any, str] = {}
        for name, value in type_.values.items():
            names.setdefault(value.value, name)  # strawberry's coercion returns the first match
        return Output(OutputKind.LEAF, non_null, coerce=type_.coerce_output_value, enum_class=enum_class,
                      enum_names=names)
    return Output(OutputKind.LEAF, non_null, coerce=type_.coerce_output_value, passthrough=_PASSTHROUGH.get(id(type_)))
