"""Relay-style connections shared by every list, page-argument parsing, and selection checks.

Selection checks read the resolver's field nodes with one linear walk (app.graphql.document_walk), not
strawberry's `info.selected_fields`, which expands every fragment at every spread (exponential in a
chain of fragments that each spread the next one twice).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import strawberry
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, ValueNode, VariableNode
from strawberry.types import Info

from app.common.errors import FieldError, ValidationFailed
from app.common.pagination import DEFAULT_PAGE_SIZE, CursorPage, OffsetPage, PageResult
from app.graphql import strawberry_adapter as strawberry_internals
from app.graphql.document_walk import LEAF, SKIP, DocumentWalk, Fold, skipped

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether rows exist after this page.")
    has_previous_page: bool = strawberry.field(description="Whether rows exist before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first row of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last row of the page.")


@strawberry.type(description="A row of a list with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor of this row; pass it as `after` or `before`.")
    node: T = strawberry.field(description="The row.")


@strawberry.type(description="One page of a list (Relay connection), with its total when selected.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="Rows of the page with their cursors.")
    nodes: list[T] = strawberry.field(description="Rows of the page, without cursors.")
    page_info: PageInfo = strawberry.field(description="Position of the page in the list.")
    total_count: int = strawberry.field(
        description="Rows matching the filters, all pages together (computed only when selected)."
    )


class ConnectionView:
    """Resolves a Connection from a PageResult, building edges only when they are selected."""

    __slots__ = ("_page",)

    def __init__(self, page: PageResult) -> None:
        self._page = page

    @property
    def nodes(self) -> list:
        return self._page.items

    @property
    def edges(self) -> list[Edge]:
        return [Edge(cursor=c, node=n) for c, n in zip(self._page.cursors, self._page.items, strict=True)]

    @property
    def page_info(self) -> PageInfo:
        cursors = self._page.cursors
        return PageInfo(
            has_next_page=self._page.has_next_page,
            has_previous_page=self._page.has_previous_page,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )

    @property
    def total_count(self) -> int | None:
        return self._page.total_count


class _Selects(Fold[tuple[str, ...], bool]):
    """Whether selections select the field `target` at the end of a path of field names (context: the
    names still to follow), through fragments, leaving out what @skip/@include remove."""

    empty = False

    def __init__(self, target: str, variables: Mapping[str, Any]) -> None:
        self.target = target
        self.variables = variables

    def add(self, total: bool, part: bool) -> bool:
        return total or part

    def enter_field(self, node: FieldNode, path: tuple[str, ...]) -> tuple[Any, Any]:
        if node.directives and skipped(node.directives, self._value):
            return SKIP
        name = node.name.value
        if not path:
            return LEAF, name == self.target
        return (path[1:], False) if name == path[0] else (LEAF, False)

    def leave_field(self, node: FieldNode, found: bool, below: bool) -> bool:
        return found or below

    def enter_inline(self, node: InlineFragmentNode, path: tuple[str, ...]) -> Any:
        return SKIP if node.directives and skipped(node.directives, self._value) else path

    def enter_spread(
        self, node: FragmentSpreadNode, fragment: FragmentDefinitionNode | None, path: tuple[str, ...]
    ) -> Any:
        skip = fragment is None or (node.directives and skipped(node.directives, self._value))
        return SKIP if skip else path

    def _value(self, node: ValueNode) -> Any:
        # As strawberry reads directive arguments: variables already coerced (defaults applied).
        return self.variables.get(node.name.value) if isinstance(node, VariableNode) else getattr(node, "value", None)


def _selects_along(info: Info, name: str, paths: tuple[tuple[str, ...], ...]) -> bool:
    """Whether the field being resolved selects `name` at the end of one of the paths (one linear walk)."""
    raw = strawberry_internals.raw_info(info)
    walk = DocumentWalk(_Selects(name, strawberry_internals.variable_values(raw)), raw.fragments)
    return any(
        walk.walk(node.selection_set, path) for node in raw.field_nodes if node.selection_set for path in paths
    )


def selects(info: Info, name: str) -> bool:
    """Whether the field being resolved selects `name` directly (fragments included)."""
    return _selects_along(info, name, ((),))


def value_or_future(future: asyncio.Future) -> Any:
    """The result itself when the future is already resolved (graphql-core then stays synchronous)."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return future


def node_selects(info: Info, name: str) -> bool:
    """Whether a connection field selects `name` on its rows (`nodes { name }` or `edges { node { name } }`)."""
    return _selects_along(info, name, (("nodes",), ("edges", "node")))


def page_from_args(
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    page: int | None,
    limit: int | None,
) -> OffsetPage | CursorPage:
    """Offset pagination when `page` or `limit` is given, cursors otherwise; mixing both is an error."""
    offset_given = page is not None or limit is not None
    cursor_given = any(v is not None for v in (first, after, last, before))
    if offset_given and cursor_given:
        raise ValidationFailed(FieldError("page", "use either page/limit or first/after/last/before"))
    if offset_given:
        return OffsetPage(page=1 if page is None else page, limit=DEFAULT_PAGE_SIZE if limit is None else limit)
    return CursorPage(first=first, after=after, last=last, before=before)
