"""Argument helpers shared by resolvers: described pagination arguments and UNSET conversion."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from app.common.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.common.unset import UNSET

First = Annotated[
    int | None,
    strawberry.argument(description=f"Page size going forward, 0 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."),
]
After = Annotated[str | None, strawberry.argument(description="Return rows after this cursor.")]
Last = Annotated[int | None, strawberry.argument(description=f"Page size going backward, 0 to {MAX_PAGE_SIZE}.")]
Before = Annotated[str | None, strawberry.argument(description="Return rows before this cursor.")]
PageNumber = Annotated[
    int | None, strawberry.argument(description="Offset pagination: page number from 1 (instead of cursors).")
]
Limit = Annotated[
    int | None,
    strawberry.argument(description=f"Offset pagination: page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."),
]
IdArg = Annotated[strawberry.ID, strawberry.argument(description="Id of the object.")]


def maybe(value: Any) -> Any:
    """strawberry's UNSET (field not given) as the services' UNSET; everything else unchanged."""
    return UNSET if value is strawberry.UNSET else value
