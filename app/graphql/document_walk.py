"""One walk over a GraphQL document's selections, linear in the document's size, for every pass that reads
selections through fragments (depth and alias limits, static cost, the storable-text guard, the root
fields access control looks at, the plan checks, relay's field selection).

A pass is a `Fold`: it says what each field contributes given what was folded below it, and how sibling
figures add up. The walk folds each named fragment once per (fragment, context) and reuses that figure at
every further spread, so a chain where each fragment spreads the next one twice costs two visits per
level, not 2^levels. A pass keeps its contexts few (a flag, a type, a short path): the walk then visits
at most that many times the document's selections. Figures that multiply through such chains are exact
up to FIGURE_MAX and saturate there (`capped`), so they stay small ints.

Fragment cycles end: a spread of a fragment that is being folded adds nothing (graphql-core's
NoFragmentCycles rejects such documents; the walk may see them before it does). The walk keeps its own
stack, so long fragment chains cannot exhaust Python's. Fragments are looked up by name and memoised by
(name, context): AST nodes are never hashed (their dataclass hash walks the whole subtree).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
)

# The largest integer a JSON number (an IEEE double) holds exactly: figures reach clients in errors.
FIGURE_MAX = 2**53 - 1

C = TypeVar("C", bound=Hashable)
R = TypeVar("R")

# What enter_* return to leave a selection out, and the context of a field not to descend into.
SKIP: Any = object()
LEAF: Any = object()
_MISSING: Any = object()

_FIELD, _FRAGMENT = 1, 2


def capped(value: int) -> int:
    """value, saturated at FIGURE_MAX (sums and products of capped non-negative figures stay exact below it)."""
    return value if value < FIGURE_MAX else FIGURE_MAX


def skipped(directives: tuple[DirectiveNode, ...] | None, value_of: Callable[[ValueNode], Any]) -> bool:
    """Whether @skip(if: true) or @include(if: false) removes the selection (value_of reads the `if`)."""
    for directive in directives or ():
        name = directive.name.value
        if name != "skip" and name != "include":
            continue
        condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
        value = value_of(condition) if condition is not None else None
        if (name == "skip" and value is True) or (name == "include" and value is False):
            return True
    return False


def fragments_of(definitions: Any) -> dict[str, FragmentDefinitionNode]:
    """The document's fragment definitions by name."""
    return {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}


class Fold(Generic[C, R]):
    """One pass: the figure of a selection set is the sum (`add`) of its selections' figures."""

    empty: R

    def add(self, total: R, part: R) -> R:
        raise NotImplementedError

    def enter_field(self, node: FieldNode, context: C) -> tuple[Any, Any]:
        """SKIP to leave the field out, else (the context to fold its selections in, or LEAF not to descend;
        a note handed to leave_field)."""
        raise NotImplementedError

    def leave_field(self, node: FieldNode, note: Any, below: R) -> R:
        """The field's figure from what was folded below it (`empty` for a leaf)."""
        raise NotImplementedError

    def enter_inline(self, node: InlineFragmentNode, context: C) -> Any:
        """The context to fold an inline fragment's selections in, or SKIP."""
        return context

    def enter_spread(self, node: FragmentSpreadNode, fragment: FragmentDefinitionNode | None, context: C) -> Any:
        """The context to fold a spread fragment in, or SKIP (unknown fragments are left out)."""
        return context if fragment is not None else SKIP


class Visit(Fold[C, None]):
    """A pass that only looks at selections (to collect or check them): no figure."""

    empty = None

    def add(self, total: None, part: None) -> None:
        return None

    def leave_field(self, node: FieldNode, note: Any, below: None) -> None:
        return None


K = TypeVar("K", bound=Hashable)


class PerDocument(Generic[K, R]):
    """A figure computed from a document alone (and a small key), kept while the document lives: the parser
    cache hands out the same node for the same text, so a repeated query is walked once. Entries go with
    their document (by identity: hashing a document walks all of it)."""

    def __init__(self, compute: Callable[[DocumentNode, K], R]) -> None:
        self.compute = compute
        self._by_document: dict[int, dict[K, R]] = {}

    def __call__(self, document: DocumentNode, key: K) -> R:
        entries = self._by_document.get(id(document))
        if entries is None:
            entries = self._by_document[id(document)] = {}
            weakref.finalize(document, self._by_document.pop, id(document), None)
        figure = entries.get(key, _MISSING)
        if figure is _MISSING:
            figure = entries[key] = self.compute(document, key)
        return figure  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self._by_document)


class DocumentWalk(Generic[C, R]):
    """Folds selection sets of one document with one pass, each fragment once per context (the figures are
    kept for further walks of the same document). `visits` counts the selections met."""

    __slots__ = ("fold", "fragments", "memo", "visits")

    def __init__(self, fold: Fold[C, R], fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fold = fold
        self.fragments = fragments
        self.memo: dict[tuple[str, C], R] = {}
        self.visits = 0

    def walk(self, selection_set: SelectionSetNode, context: C) -> R:
        """The figure of a selection set folded in context."""
        fold, fragments, memo = self.fold, self.fragments, self.memo
        add, empty = fold.add, fold.empty
        enter_field, leave_field = fold.enter_field, fold.leave_field
        folding: set[str] = set()
        visits = 0
        # A frame: [selections left, their context, figure so far, what the frame is, its field/note or memo key]
        stack: list[list[Any]] = [[iter(selection_set.selections), context, empty, None, None]]
        while True:
            frame = stack[-1]
            selection = next(frame[0], None)
            if selection is None:
                stack.pop()
                figure = frame[2]
                if frame[3] == _FIELD:
                    figure = leave_field(frame[4][0], frame[4][1], figure)
                elif frame[3] == _FRAGMENT:
                    memo[frame[4]] = figure
                    folding.discard(frame[4][0])
                if not stack:
                    self.visits += visits
                    return figure
                stack[-1][2] = add(stack[-1][2], figure)
                continue
            visits += 1
            if isinstance(selection, FieldNode):
                step = enter_field(selection, frame[1])
                if step is SKIP:
                    continue
                below, note = step
                if below is LEAF or selection.selection_set is None:
                    frame[2] = add(frame[2], leave_field(selection, note, empty))
                else:
                    stack.append([iter(selection.selection_set.selections), below, empty, _FIELD, (selection, note)])
            elif isinstance(selection, InlineFragmentNode):
                below = fold.enter_inline(selection, frame[1])
                if below is not SKIP:
                    stack.append([iter(selection.selection_set.selections), below, empty, None, None])
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                below = fold.enter_spread(selection, fragment, frame[1])
                if below is SKIP or fragment is None:
                    continue
                key = (name, below)
                known = memo.get(key, _MISSING)
                if known is not _MISSING:
                    frame[2] = add(frame[2], known)
                elif name not in folding:  # a spread inside its own fragment (a cycle) adds nothing
                    folding.add(name)
                    stack.append([iter(fragment.selection_set.selections), below, empty, _FRAGMENT, key])


def find_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation the request runs (None when the name matches none, or several exist without a name)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name is not None and op.name.value == operation_name), None)


class _RootFields(Visit[None]):
    """Collects the root fields in document order, through fragments (each once), without descending."""

    def __init__(self) -> None:
        self.fields: list[FieldNode] = []

    def enter_field(self, node: FieldNode, context: None) -> tuple[Any, Any]:
        self.fields.append(node)
        return LEAF, None


def _root_fields(document: DocumentNode, operation_name: str | None) -> tuple[FieldNode, ...]:
    operation = find_operation(document, operation_name)
    if operation is None:
        return ()
    fold = _RootFields()
    DocumentWalk(fold, fragments_of(document.definitions)).walk(operation.selection_set, None)
    return tuple(fold.fields)


# The root field nodes the operation selects, through fragments (one linear walk per document; cycles end).
root_fields: PerDocument[str | None, tuple[FieldNode, ...]] = PerDocument(_root_fields)
