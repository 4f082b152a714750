"""Batch load functions for task DataLoaders: one query per batch, results in key order."""

from __future__ import annotations

from collections.abc import Sequence

from app.tasks import service
from app.tasks.service import TaskRow


async def task_by_id(ids: Sequence[str]) -> list[TaskRow | None]:
    """Tasks (soft-deleted included) by id."""
    return await service.get_tasks_by_ids(ids=ids)


async def tasks_by_assignee_id(ids: Sequence[str]) -> list[list[TaskRow]]:
    """Live tasks of each assignee, newest first."""
    return await service.tasks_by_assignee_ids(ids=ids)


async def task_count_by_assignee_id(ids: Sequence[str]) -> list[int]:
    """Number of live tasks of each assignee, from one grouped query."""
    from app.tasks.assignments import task_counts_by_assignee

    counts = await task_counts_by_assignee(user_ids=list(ids))
    return [counts[i].total if i in counts else 0 for i in ids]
