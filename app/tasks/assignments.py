"""Task assignment queries the users domain needs through app.common.ports.TASK_ASSIGNMENTS (raw SQL on the
shared pool, `$n` parameters only).

Users live in MongoDB and tasks in PostgreSQL, so `tasks.assignee_id` is a reference no database
enforces. Writers keep it right (the tasks service checks the user exists; deleting a user unassigns its
tasks), readers tolerate it being wrong (an unknown assignee reads as null), and
`repair_dangling_assignees` clears what a crash or a race left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.common import changes
from app.common.changes import Change, ChangeKind, Entity
from app.common.ports import Counts
from app.common.timestamps import as_utc
from app.stores import sql
from app.users.public import existing_user_ids

REPAIR_BATCH_SIZE = 500


_COUNTS_SELECT = """
    SELECT assignee_id,
           count(*) AS total,
           count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
           count(*) FILTER (WHERE status = 'IN_PROGRESS') AS in_progress
    FROM tasks
    WHERE deleted_at IS NULL AND assignee_id IS NOT NULL
"""


async def unassign_user_tasks(*, user_id: str) -> list[str]:
    """Clear the assignee of every task (soft-deleted ones too) assigned to user_id; returns their ids."""
    rows = await sql.fetch("UPDATE tasks SET assignee_id = NULL WHERE assignee_id = $1 RETURNING id", user_id)
    return [str(row["id"]) for row in rows]


async def task_counts_by_assignee(*, user_ids: Sequence[str] | None) -> dict[str, Counts]:
    """Live task counts per assignee (all assignees when user_ids is None) in one grouped query."""
    if user_ids is None:
        rows = await sql.fetch(_COUNTS_SELECT + " GROUP BY assignee_id")
    elif not user_ids:
        return {}
    else:
        rows = await sql.fetch(
            _COUNTS_SELECT + " AND assignee_id = ANY($1::varchar[]) GROUP BY assignee_id", list(set(user_ids))
        )
    return {
        row["assignee_id"]: Counts(total=row["total"], completed=row["completed"], in_progress=row["in_progress"])
        for row in rows
    }


async def assignee_ids_with_tasks_created_between(*, start: datetime, end: datetime) -> list[str]:
    """Distinct assignees of live tasks created in [start, end) (naive datetimes are UTC), sorted."""
    rows = await sql.fetch(
        """
        SELECT DISTINCT assignee_id FROM tasks
        WHERE deleted_at IS NULL AND assignee_id IS NOT NULL AND created_at >= $1 AND created_at < $2
        ORDER BY assignee_id
        """,
        as_utc(start),
        as_utc(end),
    )
    return [row["assignee_id"] for row in rows]


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
        rows = await sql.fetch(
            """
            SELECT DISTINCT assignee_id FROM tasks
            WHERE assignee_id IS NOT NULL AND ($1::varchar IS NULL OR assignee_id > $1)
            ORDER BY assignee_id LIMIT $2
            """,
            last,
            batch_size,
        )
        if not rows:
            return repaired
        batch = [row["assignee_id"] for row in rows]
        last = batch[-1]
        dangling = sorted(set(batch) - await existing_user_ids(ids=batch))
        if dangling:
            repaired += await _unassign_all(dangling)
        if len(batch) < batch_size:
            return repaired


async def _unassign_all(assignee_ids: list[str]) -> int:
    rows = await sql.fetch(
        "UPDATE tasks SET assignee_id = NULL WHERE assignee_id = ANY($1::varchar[]) RETURNING id", assignee_ids
    )
    task_ids = tuple(str(row["id"]) for row in rows)
    if task_ids:
        await changes.emit(Change(Entity.TASK, ChangeKind.UPDATED, ids=task_ids, fields=("assignee_id",)))
    return len(task_ids)


