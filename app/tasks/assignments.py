"""Task assignment queries the users domain needs through app.common.ports.TASK_ASSIGNMENTS (Tortoise
QuerySets on the tasks table).

Users live in MongoDB and tasks in PostgreSQL, so `tasks.assignee_id` is a reference no database
enforces. Writers keep it right (the tasks service checks the user exists; deleting a user unassigns its
tasks), readers tolerate it being wrong (an unknown assignee reads as null), and
`repair_dangling_assignees` clears what a crash or a race left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from pypika_tortoise.terms import ValueWrapper
from tortoise.expressions import Q
from tortoise.functions import Count

from app.common import changes
from app.common.changes import Change, ChangeKind, Entity
from app.common.ports import Counts
from app.common.timestamps import as_utc
from app.stores.sql import AnyOf, Param, Statement, compile_query
from app.tasks.models import Task, TaskStatus
from app.tasks.queries import column
from app.users.public import existing_user_ids

REPAIR_BATCH_SIZE = 500


@lru_cache(maxsize=2)
def _counts_statement(*, every: bool) -> Statement:
    """Live task counts of assignees `ids` (of every assignee when `every`), one row per assignee."""
    query = Task.filter(deleted_at__isnull=True, assignee_id__isnull=False)
    if not every:
        query = query.filter(assignee_id=AnyOf(Param("ids", "varchar[]")))
    return compile_query(
        query.annotate(
            total=Count("id"),
            completed=Count("id", _filter=Q(status=Param("completed"))),
            in_progress=Count("id", _filter=Q(status=Param("in_progress"))),
        )
        .group_by("assignee_id")
        .values("assignee_id", "total", "completed", "in_progress")
    )


@lru_cache(maxsize=1)
def _unassign_statement() -> Statement:
    """Clear the assignee of every task (soft-deleted ones too) assigned to one of `ids`, returning their ids.

    Through Tortoise's query builder: `QuerySet.update()` returns a count, and the ids are what changed.
    """
    return compile_query(
        Task._meta.db.query_class.update(Task._meta.basetable)
        .set(column("assignee_id"), ValueWrapper(None, allow_parametrize=False))
        .where(column("assignee_id") == AnyOf(Param("ids", "varchar[]")))
        .returning(column("id"))
    )


async def unassign_user_tasks(*, user_id: str) -> list[str]:
    """Clear the assignee of every task (soft-deleted ones too) assigned to user_id; returns their ids."""
    return [str(row["id"]) for row in await _unassign_statement().fetch({"ids": [user_id]})]


async def task_counts_by_assignee(*, user_ids: Sequence[str] | None) -> dict[str, Counts]:
    """Live task counts per assignee (all assignees when user_ids is None) in one grouped query."""
    if user_ids is not None and not user_ids:
        return {}
    values = {"completed": TaskStatus.COMPLETED.value, "in_progress": TaskStatus.IN_PROGRESS.value}
    if user_ids is not None:
        values["ids"] = list(set(user_ids))
    rows = await _counts_statement(every=user_ids is None).fetch(values)
    return {
        row["assignee_id"]: Counts(total=row["total"], completed=row["completed"], in_progress=row["in_progress"])
        for row in rows
    }


async def assignee_ids_with_tasks_created_between(*, start: datetime, end: datetime) -> list[str]:
    """Distinct assignees of live tasks created in [start, end) (naive datetimes are UTC), sorted."""
    return await (
        Task.filter(deleted_at__isnull=True, assignee_id__isnull=False, created_at__gte=as_utc(start),
                    created_at__lt=as_utc(end))
        .distinct()
        .order_by("assignee_id")
        .values_list("assignee_id", flat=True)
    )


async def repair_dangling_assignees(*, batch_size: int = REPAIR_BATCH_SIZE) -> int:
    """Unassign tasks whose assignee is no user (any more), batch by batch; returns how many tasks changed.

    Each batch is one SQL query for the next distinct assignee ids, one Mongo `$in` for which of them
    exist, and one UPDATE for the rest.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    repaired = 0
    last: str | None = None
    while True:
        query = Task.filter(assignee_id__isnull=False)
        if last is not None:
            query = query.filter(assignee_id__gt=last)
        batch = await query.distinct().order_by("assignee_id").limit(batch_size).values_list("assignee_id", flat=True)
        if not batch:
            return repaired
        last = batch[-1]
        dangling = sorted(set(batch) - await existing_user_ids(ids=batch))
        if dangling:
            repaired += await _unassign_all(dangling)
        if len(batch) < batch_size:
            return repaired


async def _unassign_all(assignee_ids: list[str]) -> int:
    task_ids = tuple(str(row["id"]) for row in await _unassign_statement().fetch({"ids": assignee_ids}))
    if task_ids:
        await changes.emit(Change(Entity.TASK, ChangeKind.UPDATED, ids=task_ids, fields=("assignee_id",)))
    return len(task_ids)


