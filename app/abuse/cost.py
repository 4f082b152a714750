"""Static query cost, computed from the document and its variables before anything executes.

Every field costs 1 (mutation root fields cost `mutation_cost`: writes are dearer than reads) and
`__typename` costs nothing. A field with a size argument (`first`, `last`, `limit`; the largest given,
else the argument's schema default, else `default_list_size`) multiplies the cost of its subtree: for a
list field that is its whole selection, for a connection it is the `edges`/`nodes` lists inside it (so
`pageInfo` and `totalCount` count once). Other list fields multiply their subtree by
`default_list_size`. Named fragments are expanded (each at most once per path, so cycles end), inline
fragments add their selections, and `@skip`/`@include` are honoured. Introspection roots cost 1 each;
production turns introspection off altogether.

Variables come from the request; a variable that is missing or not an integer falls back to the
operation's default for it, then the schema's, then the default list size. Coercion errors are reported
by execution afterwards, so the estimate only has to be safe, not strict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
)

from app.common.errors import AppError

SIZE_ARGUMENTS = ("first", "last", "limit")
# GraphQL's Int is 32 bits (bigger variables fail coercion later); costs stay exact JSON numbers for clients.
SIZE_MAX = 2**31 - 1
COST_MAX = 2**53 - 1
CONNECTION_LISTS = frozenset({"edges", "nodes"})
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


class QueryTooComplex(AppError):
    code = "QUERY_TOO_COMPLEX"

    def __init__(self, cost: int, max_cost: int) -> None:
        super().__init__(
            f"query cost {cost} exceeds the maximum of {max_cost}; ask for smaller pages or fewer nested lists",
            extensions={"cost": cost, "maxCost": max_cost},
        )
        self.cost = cost
        self.max_cost = max_cost


@dataclass(frozen=True)
class CostModel:
    default_list_size: int = 20
    mutation_cost: int = 10


def check_cost(cost: int, max_cost: int) -> None:
    """QUERY_TOO_COMPLEX when cost exceeds max_cost."""
    if cost > max_cost:
        raise QueryTooComplex(cost, max_cost)


def find_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation the request runs (None when the name matches none, or several exist without a name)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name is not None and op.name.value == operation_name), None)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    model: CostModel = CostModel(),
) -> int:
    """The static cost of the operation the request runs (0 when there is none to run)."""
    operation = find_operation(document, operation_name)
    if operation is None:
        return 0
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return 0
    walker = _Walker(schema, document, operation, variables or {}, model)
    base = model.mutation_cost if operation.operation is OperationType.MUTATION else 1
    cost = walker.selection_cost(operation.selection_set, root, inherited_size=None, base=base, expanding=frozenset())
    return min(cost, COST_MAX)


def _schema_default(argument: GraphQLArgument) -> Any:
    """An argument's default: a Python value (code-first schemas) or a literal (schemas built from SDL)."""
    if argument.default_value is not Undefined:
        return argument.default_value
    literal = getattr(argument.default, "literal", None)
    return int(literal.value) if isinstance(literal, IntValueNode) else None


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        model: CostModel,
    ) -> None:
        self.schema = schema
        self.model = model
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        defaults = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or () if v.default_value
        }
        self.variables = variables
        self.variable_defaults = defaults

    def selection_cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        *,
        inherited_size: int | None,
        base: int,
        expanding: frozenset[str],
    ) -> int:
        if selection_set is None or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 0
        total = 0
        for selection in selection_set.selections:
            if self._skipped(selection):
                continue
            if isinstance(selection, FieldNode):
                total += self.field_cost(
                    selection, parent, inherited_size=inherited_size, base=base, expanding=expanding
                )
            elif isinstance(selection, InlineFragmentNode):
                target = self._type(selection.type_condition.name.value) if selection.type_condition else parent
                total += self.selection_cost(
                    selection.selection_set, target, inherited_size=inherited_size, base=base, expanding=expanding
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in expanding:
                    continue
                total += self.selection_cost(
                    fragment.selection_set,
                    self._type(fragment.type_condition.name.value),
                    inherited_size=inherited_size,
                    base=base,
                    expanding=expanding | {name},
                )
        return total

    def field_cost(
        self, node: FieldNode, parent: Any, *, inherited_size: int | None, base: int, expanding: frozenset[str]
    ) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        if name in _INTROSPECTION_ROOTS:
            return 1
        definition: GraphQLField | None = parent.fields.get(name)
        if definition is None:
            return base  # validation rejects it before execution
        field_type = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        is_list = isinstance(field_type, GraphQLList)
        own_size = self._size(node, definition)
        if own_size is not None and not is_list:
            # A connection: its page size applies to the edges/nodes lists inside.
            multiplier, child_size = 1, own_size
        elif is_list:
            multiplier = own_size if own_size is not None else self._list_size(name, inherited_size)
            child_size = None
        else:
            multiplier, child_size = 1, None
        children = self.selection_cost(
            node.selection_set, get_named_type(definition.type), inherited_size=child_size, base=1, expanding=expanding
        )
        return base + multiplier * children

    def _list_size(self, name: str, inherited_size: int | None) -> int:
        if inherited_size is not None and name in CONNECTION_LISTS:
            return inherited_size
        return self.model.default_list_size

    def _size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size the field asks for (largest of its size arguments), None when it has none."""
        sizes: list[int] = []
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name in SIZE_ARGUMENTS:
            argument = definition.args.get(name)
            if argument is None:
                continue
            value = self._value(given[name]) if name in given else None
            if value is None:
                value = _schema_default(argument)
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(min(max(value, 0), SIZE_MAX))
        if sizes:
            return max(sizes)
        has_size_argument = any(name in definition.args for name in SIZE_ARGUMENTS)
        return self.model.default_list_size if has_size_argument else None

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, BooleanValueNode):
            return node.value
        if isinstance(node, VariableNode):
            name = node.name.value
            if name in self.variables and self.variables[name] is not None:
                return self.variables[name]
            default = self.variable_defaults.get(name)
            return self._value(default) if default is not None else None
        return None

    def _skipped(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        for directive in node.directives or ():
            arguments = {a.name.value: self._value(a.value) for a in directive.arguments or ()}
            if directive.name.value == "skip" and arguments.get("if") is True:
                return True
            if directive.name.value == "include" and arguments.get("if") is False:
                return True
        return False

    def _type(self, name: str) -> Any:
        return self.schema.get_type(name)
