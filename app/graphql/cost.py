"""Static query cost, computed from the document and its variables before anything executes.

Every field costs 1 (mutation root fields cost `mutation_cost`: writes are dearer than reads) and
`__typename` costs nothing. A field with a size argument (`first`, `last`, `limit`; the largest given,
else the argument's schema default, else `default_list_size`) multiplies the cost of its subtree: for a
list field that is its whole selection, for a connection it is the `edges`/`nodes` lists inside it (so
`pageInfo` and `totalCount` count once). Other list fields multiply their subtree by
`default_list_size`. Named fragments count at every spread, inline fragments add their selections, and
`@skip`/`@include` are honoured. Introspection roots cost 1 each; production turns introspection off
altogether.

One linear walk (app.graphql.document_walk) prices each fragment once and reuses the figure at every
spread, so a fragment chain that doubles at every level costs its exact (huge) price without being
expanded; costs saturate at COST_MAX (2^53 - 1), so they stay exact JSON numbers. A fragment cycle
(validation rejects it before this runs) adds nothing.

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
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
)

from app.common.errors import AppError
from app.graphql.document_walk import (
    FIGURE_MAX,
    LEAF,
    SKIP,
    DocumentWalk,
    Fold,
    capped,
    find_operation,
    fragments_of,
    skipped,
)

SIZE_ARGUMENTS = ("first", "last", "limit")
# GraphQL's Int is 32 bits (bigger variables fail coercion later); costs stay exact JSON numbers for clients.
SIZE_MAX = 2**31 - 1
COST_MAX = FIGURE_MAX
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
    walk = DocumentWalk(_Cost(schema, operation, variables or {}, model), fragments_of(document.definitions))
    base = model.mutation_cost if operation.operation is OperationType.MUTATION else 1
    return _evaluate(walk.walk(operation.selection_set, root), base, model.default_list_size)


# The cost of a selection set as a function of the two things its parent decides: the cost of each of its
# fields (`base`: the mutation cost at a mutation's root, else 1) and the size of `edges`/`nodes` lists in
# it (the page size of the connection it belongs to). Kept as (fixed, per base, per page row), a fragment
# is priced once, whatever it is spread into.
Figure = tuple[int, int, int]
_ZERO: Figure = (0, 0, 0)


def _evaluate(figure: Figure, base: int, page_size: int) -> int:
    return capped(figure[0] + figure[1] * base + figure[2] * page_size)


def _schema_default(argument: GraphQLArgument) -> Any:
    """An argument's default: a Python value (code-first schemas) or a literal (schemas built from SDL)."""
    if argument.default_value is not Undefined:
        return argument.default_value
    literal = getattr(argument.default, "literal", None)
    return int(literal.value) if isinstance(literal, IntValueNode) else None


_COMPOSITE = (GraphQLObjectType, GraphQLInterfaceType)
# Fields whose figure does not depend on selections: __typename is free, introspection roots cost 1,
# unknown fields cost `base`.
_OWN: Any = object()
_FREE = (LEAF, (_OWN, _ZERO))
_INTROSPECTION = (LEAF, (_OWN, (1, 0, 0)))
_UNKNOWN = (LEAF, (_OWN, (0, 1, 0)))


class _Cost(Fold[Any, Figure]):
    """Context: the parent type of the selections."""

    empty = _ZERO

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        model: CostModel,
    ) -> None:
        self.schema = schema
        self.model = model
        defaults = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or () if v.default_value
        }
        self.variables = variables
        self.variable_defaults = defaults

    def add(self, total: Figure, part: Figure) -> Figure:
        if part is _ZERO:
            return total
        fixed, per_base, per_row = total[0] + part[0], total[1] + part[1], total[2] + part[2]
        return (
            fixed if fixed < COST_MAX else COST_MAX,
            per_base if per_base < COST_MAX else COST_MAX,
            per_row if per_row < COST_MAX else COST_MAX,
        )

    def enter_inline(self, node: InlineFragmentNode, parent: Any) -> Any:
        if node.directives and skipped(node.directives, self._value):
            return SKIP
        target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
        return target if isinstance(target, _COMPOSITE) else SKIP

    def enter_spread(self, node: FragmentSpreadNode, fragment: FragmentDefinitionNode | None, parent: Any) -> Any:
        if fragment is None or (node.directives and skipped(node.directives, self._value)):
            return SKIP
        target = self.schema.get_type(fragment.type_condition.name.value)
        return target if isinstance(target, _COMPOSITE) else SKIP

    def enter_field(self, node: FieldNode, parent: Any) -> tuple[Any, Any]:
        if node.directives and skipped(node.directives, self._value):
            return SKIP
        name = node.name.value
        if name == "__typename":
            return _FREE
        if name in _INTROSPECTION_ROOTS:
            return _INTROSPECTION
        definition: GraphQLField | None = parent.fields.get(name)
        if definition is None:
            return _UNKNOWN  # costs `base`; validation rejects it before execution
        field_type = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        is_list = isinstance(field_type, GraphQLList)
        own_size = self._size(node, definition)
        # How many times the selections count: a number, or None for the page size the parent decides.
        multiplier: int | None
        if own_size is not None and not is_list:
            # A connection: its page size applies to the edges/nodes lists inside.
            multiplier, child_size = 1, own_size
        elif is_list:
            if own_size is not None:
                multiplier = own_size
            else:
                multiplier = None if name in CONNECTION_LISTS else self.model.default_list_size
            child_size = None
        else:
            multiplier, child_size = 1, None
        child_type = get_named_type(definition.type)
        below = child_type if isinstance(child_type, _COMPOSITE) else LEAF
        # The note: how many times the selections count (None: the page size the parent decides), and the
        # page size of the lists inside (None: the default list size).
        return below, (multiplier, child_size)

    def leave_field(self, node: FieldNode, note: Any, below: Figure) -> Figure:
        multiplier, child_size = note
        if multiplier is _OWN:  # a figure of its own: __typename, introspection roots, unknown fields
            return child_size  # type: ignore[no-any-return]
        children = _evaluate(below, 1, self.model.default_list_size if child_size is None else child_size)
        if multiplier is None:
            return (0, 1, children)
        return (capped(multiplier * children), 1, 0)

    def _size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size the field asks for (largest of its size arguments), None when it has none."""
        if not definition.args:
            return None
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

