"""Validation rules that bound what one document may ask for, and what checking it may cost.

- Depth and aliases, counted through fragments (QUERY_TOO_DEEP, TOO_MANY_ALIASES). One linear walk
  (app.graphql.document_walk) computes each fragment's figures once: its own depth, added to the depth of
  every spread, and its aliases, counted once per spread (exact up to 2^53 - 1, where they saturate), so
  a fragment chain that doubles at every level is counted exactly without being expanded.
- Field merging: graphql-core's OverlappingFieldsCanBeMerged compares every pair of fields (and of
  fragments) that share a response name, quadratic in their number. It meters that work with a budget
  and aborts the whole validation once it runs out; here the budget is `merge_budget` (graphql-core's own
  is 500,000, about a second of CPU) and running out is a TOO_MANY_OVERLAPPING_FIELDS error. Documents
  within the budget get graphql-core's verdicts unchanged.

Each violation is a GraphQL error with its own code, never masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    BREAK,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.validation import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

from app.graphql.document_walk import SKIP, DocumentWalk, Fold, capped, fragments_of

_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})

Figure = tuple[int, int]  # (depth, aliases) of a selection set


class _DepthAndAliases(Fold[bool, Figure]):
    """Context: whether the selections are the operation's root ones (introspection roots count nothing)."""

    empty: Figure = (0, 0)

    def add(self, total: Figure, part: Figure) -> Figure:
        return (total[0] if total[0] >= part[0] else part[0]), capped(total[1] + part[1])

    def enter_field(self, node: FieldNode, at_root: bool) -> tuple[Any, Any]:
        if at_root and node.name.value in _INTROSPECTION_ROOTS:
            return SKIP
        return False, node.alias is not None

    def leave_field(self, node: FieldNode, aliased: bool, below: Figure) -> Figure:
        return below[0] + 1, capped(below[1] + aliased)


_DEPTH_AND_ALIASES = _DepthAndAliases()


def depth_and_aliases(walk: DocumentWalk[bool, Figure], operation: OperationDefinitionNode) -> Figure:
    """The operation's depth and alias count, through fragments."""
    return walk.walk(operation.selection_set, True)


def limits_walk(fragments: Any) -> DocumentWalk[bool, Figure]:
    """A walk computing depth and aliases over a document's fragments."""
    return DocumentWalk(_DEPTH_AND_ALIASES, fragments)


def limit_rules(*, max_depth: int, max_aliases: int) -> list[type[ValidationRule]]:
    """Validation rules enforcing the depth and alias limits."""

    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            # One walk per document: every operation in it reuses the fragments' figures.
            self.walk = limits_walk(fragments_of(context.document.definitions))

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            depth, aliases = depth_and_aliases(self.walk, node)
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


def bounded_field_merging(*, merge_budget: int) -> type[ValidationRule]:
    """graphql-core's OverlappingFieldsCanBeMerged with `merge_budget` units of work, then a coded error."""

    class BoundedFieldMerging(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = merge_budget

        def enter_selection_set(self, selection_set: SelectionSetNode, *args: Any) -> Any:
            try:
                return super().enter_selection_set(selection_set, *args)
            except ValidationAbortedError:
                if self.rule_context.remaining_complexity_budget >= 0:
                    raise  # the error limit, not the budget
            self.report_error(
                GraphQLError(
                    "the document repeats response names too often to check that its fields merge "
                    f"(more than {merge_budget} units of work); use fewer repeated fields or fragments",
                    selection_set,
                    extensions={"code": "TOO_MANY_OVERLAPPING_FIELDS", "mergeBudget": merge_budget},
                )
            )
            return BREAK  # this rule only: the other rules still run

    return BoundedFieldMerging


class DocumentRules(SchemaExtension):
    """graphql-core's validation rules with some replaced, plus ours (the same classes for every operation:
    the validation cache is keyed by them)."""

    def __init__(
        self, *, replacements: dict[type[ValidationRule], type[ValidationRule]], added: tuple[type[ValidationRule], ...]
    ) -> None:
        self.replacements = replacements
        self.added = added

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        replacements = self.replacements
        context.validation_rules = tuple(replacements.get(r, r) for r in context.validation_rules) + self.added
        yield


def document_rules(*, max_depth: int, max_aliases: int, merge_budget: int) -> Callable[[], DocumentRules]:
    """The factory of the extension that bounds field merging and adds the depth and alias limits."""
    replacements: dict[type[ValidationRule], type[ValidationRule]] = {
        OverlappingFieldsCanBeMergedRule: bounded_field_merging(merge_budget=merge_budget)
    }
    added = tuple(limit_rules(max_depth=max_depth, max_aliases=max_aliases))
    return lambda: DocumentRules(replacements=replacements, added=added)
