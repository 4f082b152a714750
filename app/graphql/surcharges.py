"""Surcharges: points an operation costs on top of its static cost, because its answer is worth more than
the work behind it (an email change answers CONFLICT when the address is taken: a probe of who is
registered).

A domain registers a rule for one root field; the rule sees the caller and each selection of that field
(by response key: aliases are separate executions, so each pays) with its arguments resolved against the
request's variables, and returns the extra points. AccessControl adds the total to the operation's cost
after the QUERY_MAX_COST check (a surcharge prices an answer, not work), so it is charged with the rest to
the caller's rate-limit budget in one step, before anything runs, and reported in `extensions.cost`.

The root selections come from the one document walker (`root_fields`: through fragments, each once,
linear in the document, kept per document).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, Undefined, value_from_ast_untyped

from app.graphql.document_walk import find_operation, root_fields
from app.auth.principal import Principal
from app.settings import Settings


@dataclass(frozen=True)
class RootSelection:
    """One root field as the operation selects it: its arguments as given (Undefined values left out)."""

    name: str
    arguments: Mapping[str, Any]


Rule = Callable[[Principal, RootSelection, Settings], int]

_rules: dict[str, Rule] = {}


def register(field_name: str, rule: Rule) -> None:
    """Price each selection of root field `field_name` with `rule` (one rule per field)."""
    _rules[field_name] = rule


def surcharge(
    *,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    principal: Principal,
    settings: Settings,
) -> int:
    """The extra points the operation costs this caller (0 when no registered field is selected)."""
    if not _rules:
        return 0
    operation = find_operation(document, operation_name)
    if operation is None:
        return 0
    values = _variable_values(operation, variables or {})
    return sum(
        _rules[node.name.value](principal, _selection(node, values), settings)
        for node in _priced(root_fields(document, operation_name))
    )


def _variable_values(operation: OperationDefinitionNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The request's variables, plus the operation's defaults for those it left out."""
    values = dict(variables)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
    return values


def _priced(fields: tuple[FieldNode, ...]) -> list[FieldNode]:
    """The priced root fields, one per response key (fields sharing a key merge into one execution)."""
    found: dict[str, FieldNode] = {}
    for node in fields:
        if node.name.value in _rules:
            found.setdefault(node.alias.value if node.alias is not None else node.name.value, node)
    return list(found.values())


def _selection(node: FieldNode, variables: Mapping[str, Any]) -> RootSelection:
    arguments = {}
    for argument in node.arguments or ():
        value = value_from_ast_untyped(argument.value, variables)
        if value is not Undefined:
            arguments[argument.name.value] = value
    return RootSelection(node.name.value, arguments)
