"""Text no store can hold: NUL characters (PostgreSQL text refuses them) and unpaired UTF-16 surrogates
(not encodable as UTF-8). Found anywhere in an operation's variables or literal arguments, they are a
VALIDATION_FAILED naming where, before any resolver runs, instead of a driver error deep inside a query.
Literals are found by one linear walk of the operations (app.graphql.document_walk): each fragment once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
)

from app.common.errors import FieldError, ValidationFailed
from app.graphql.document_walk import DocumentWalk, PerDocument, Visit, fragments_of


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


class _Literals(Visit[None]):
    """Collects the paths of literal arguments holding unstorable text, each fragment once."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def enter_field(self, node: FieldNode, context: None) -> tuple[Any, Any]:
        for argument in node.arguments or ():
            self.paths += _in_literal(argument.value, argument.name.value)
        return None, None


def literal_walk(document: DocumentNode) -> tuple[list[str], DocumentWalk[None, None]]:
    """The paths of unstorable literal arguments in the document's operations, and the walk that found them."""
    literals = _Literals()
    walk = DocumentWalk(literals, fragments_of(document.definitions))
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk.walk(definition.selection_set, None)
    return literals.paths, walk


_LITERAL_PATHS: PerDocument[None, tuple[str, ...]] = PerDocument(lambda document, _: tuple(literal_walk(document)[0]))


def check_storable_text(document: DocumentNode, variables: Mapping[str, Any] | None) -> None:
    """VALIDATION_FAILED listing every variable or literal argument holding text no store can hold."""
    paths = list(_in_value(dict(variables or {}), "$"))
    paths += _LITERAL_PATHS(document, None)
    if paths:
        message = "must not contain NUL characters or unpaired surrogates"
        raise ValidationFailed([FieldError(path.removeprefix("$."), message) for path in dict.fromkeys(paths)])
