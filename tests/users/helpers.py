"""Test data written straight to the stores (bypassing the services under test)."""

from __future__ import annotations

from datetime import datetime

from app.common.ids import uuid7
from app.stores import sql
from app.users.documents import User


async def insert_task(
    *,
    assignee_id: str | None,
    status: str = "TODO",
    created_at: datetime | None = None,
    deleted_at: datetime | None = None,
) -> str:
    """A task row inserted with raw SQL; returns its id."""
    task_id = await sql.fetchval(
        """
        INSERT INTO tasks (id, title, status, assignee_id, created_at, deleted_at)
        VALUES ($1, 'task', $2, $3, coalesce($4, now()), $5) RETURNING id
        """,
        uuid7(),
        status,
        assignee_id,
        created_at,
        deleted_at,
    )
    return str(task_id)


async def assignee_of(task_id: str) -> str | None:
    return await sql.fetchval("SELECT assignee_id FROM tasks WHERE id = $1::uuid", task_id)


async def insert_users_at(created_at: datetime, emails: list[str], *, name: str | None = None) -> list[User]:
    """Users sharing one created_at (insert_many runs no before_event hook), read back with their ids."""
    users = [User(email=email, name=name, created_at=created_at, updated_at=created_at) for email in emails]
    await User.insert_many(users)
    return await User.find({"email": {"$in": emails}}).to_list()
