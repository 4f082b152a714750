"""Relay-style connections shared by every list, page-argument parsing, and selection checks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from app.common.errors import FieldError, ValidationFailed
from app.common.pagination import CursorPage, OffsetPage, PageResult

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


def _included(directives: dict) -> bool:
    """False when @skip(if: true) or @include(if: false) removes the selection (variables already applied)."""
    if directives.get("skip", {}).get("if") is True:
        return False
    return directives.get("include", {}).get("if", True) is not False


def _names(selections: Iterable[object]) -> Iterable[str]:
    for selection in selections:
        if not _included(getattr(selection, "directives", None) or {}):
            continue
        if isinstance(selection, SelectedField):
            yield selection.name
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            yield from _names(selection.selections)


def selects(info: Info, name: str) -> bool:
    """Whether the field being resolved selects `name` directly (fragments included)."""
    return any(name in _names(field.selections) for field in info.selected_fields)


def value_or_future(future: asyncio.Future) -> Any:
    """The result itself when the future is already resolved (graphql-core then stays synchronous)."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return future


def node_selects(info: Info, name: str) -> bool:
    """Whether a connection field selects `name` on its rows (`nodes { name }` or `edges { node { name } }`)."""
    for field in info.selected_fields:
        for child in _fields(field.selections):
            if child.name == "nodes" and name in _names(child.selections):
                return True
            if child.name == "edges":
                for edge_child in _fields(child.selections):
                    if edge_child.name == "node" and name in _names(edge_child.selections):
                        return True
    return False


def _fields(selections: Iterable[object]) -> Iterable[SelectedField]:
    for selection in selections:
        if not _included(getattr(selection, "directives", None) or {}):
            continue
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            yield from _fields(selection.selections)


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
        return OffsetPage(page=1 if page is None else page, limit=20 if limit is None else limit)
    return CursorPage(first=first, after=after, last=last, before=before)
