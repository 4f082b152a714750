"""Validation rules that bound what one document may ask for: depth and aliases (through fragments).

Each violation is a GraphQL error with its own code (QUERY_TOO_DEEP, TOO_MANY_ALIASES), never masked.
Fragment cycles are other rules' business; here each fragment is expanded once per path, so a cycle
cannot recurse forever.
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

_INTROSPECTION_ROOTS = {"__schema", "__type"}


def _fragments(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {
        d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)
    }


def _walk(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    depth: int,
    expanding: frozenset[str],
) -> tuple[int, int]:
    """(max depth, alias count) below a selection set."""
    if selection_set is None:
        return depth, 0
    deepest, aliases = depth, 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if depth == 0 and selection.name.value in _INTROSPECTION_ROOTS:
                continue
            aliases += 1 if selection.alias else 0
            child_depth, child_aliases = _walk(selection.selection_set, fragments, depth + 1, expanding)
        elif isinstance(selection, InlineFragmentNode):
            child_depth, child_aliases = _walk(selection.selection_set, fragments, depth, expanding)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in expanding:
                continue
            child_depth, child_aliases = _walk(fragment.selection_set, fragments, depth, expanding | {name})
        else:  # pragma: no cover - no other selection kinds exist
            continue
        deepest = max(deepest, child_depth)
        aliases += child_aliases
    return deepest, aliases


def limit_rules(*, max_depth: int, max_aliases: int) -> list[type[ValidationRule]]:
    """Validation rules enforcing the depth and alias limits."""

    class DocumentLimits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            depth, aliases = _walk(node.selection_set, _fragments(self.context), 0, frozenset())
            name = node.name.value if node.name else "anonymous"
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"operation '{name}' is {depth} levels deep; the limit is {max_depth}",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP", "depth": depth, "maxDepth": max_depth},
                    )
                )
            if aliases > max_aliases:
                self.report_error(
                    GraphQLError(
                        f"operation '{name}' uses {aliases} aliases; the limit is {max_aliases}",
                        node,
                        extensions={"code": "TOO_MANY_ALIASES", "aliases": aliases, "maxAliases": max_aliases},
                    )
                )

    return [DocumentLimits]
