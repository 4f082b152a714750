"""Text no store can hold: NUL characters (PostgreSQL text refuses them) and unpaired UTF-16 surrogates
(not encodable as UTF-8). Found anywhere in an operation's variables or literal arguments, they are a
VALIDATION_FAILED naming where, before any resolver runs, instead of a driver error deep inside a query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
)

from app.common.errors import FieldError, ValidationFailed


def is_storable(text: str) -> bool:
    """No NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _in_value(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if not is_storable(value):
            yield path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not is_storable(key):
                yield f"{path}.<key>"
            yield from _in_value(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _in_value(item, f"{path}.{index}")


def _in_literal(node: ValueNode, path: str) -> Iterator[str]:
    if isinstance(node, StringValueNode):
        if not is_storable(node.value):
            yield path
    elif isinstance(node, ListValueNode):
        for index, item in enumerate(node.values):
            yield from _in_literal(item, f"{path}.{index}")
    elif isinstance(node, ObjectValueNode):
        for field in node.fields:
            yield from _in_literal(field.value, f"{path}.{field.name.value}")


def _in_selections(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[str]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            for argument in selection.arguments or ():
                yield from _in_literal(argument.value, argument.name.value)
            yield from _in_selections(selection.selection_set, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            yield from _in_selections(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _in_selections(fragment.selection_set, fragments, seen)


def check_storable_text(document: DocumentNode, variables: Mapping[str, Any] | None) -> None:
    """VALIDATION_FAILED listing every variable or literal argument holding text no store can hold."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    paths = list(_in_value(dict(variables or {}), "$"))
    for definition in document.definitions:
        if not isinstance(definition, FragmentDefinitionNode):
            paths += _in_selections(getattr(definition, "selection_set", None), fragments, set())
    if paths:
        message = "must not contain NUL characters or unpaired surrogates"
        raise ValidationFailed([FieldError(path.removeprefix("$."), message) for path in dict.fromkeys(paths)])
