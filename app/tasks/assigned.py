"""The `User.tasks` page, built from batched loaders so a list of users costs a fixed number of queries."""

from __future__ import annotations

import asyncio

from strawberry.types import Info

from app.common.errors import FieldError, ValidationFailed
from app.common.pagination import MAX_PAGE_SIZE, PageResult
from app.graphql.relay import ConnectionView, selects
from app.tasks.queries import TaskSort


async def assigned_tasks_page(info: Info, user_id: str, first: int) -> ConnectionView:
    """Newest `first` live tasks of a user, with the exact total when selected."""
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise ValidationFailed(FieldError("first", f"must be between 0 and {MAX_PAGE_SIZE}"))
    loaders = info.context.loaders
    want_total = selects(info, "totalCount")
    rows, total = await asyncio.gather(
        loaders.tasks_by_assignee_id.load(user_id),
        loaders.task_count_by_assignee_id.load(user_id) if want_total else asyncio.sleep(0, None),
    )
    page = rows[:first]
    cursors = TaskSort().cursors  # newest first, as tasks_by_assignee_id orders them
    return ConnectionView(
        PageResult(
            items=page,
            cursors=[cursors.encode(r.created_at, r.id) for r in page],
            has_next_page=len(rows) > first,
            has_previous_page=False,
            total_count=total,
        )
    )
