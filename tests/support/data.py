"""Test data helpers: reset the stores between tests, insert rows directly."""

from __future__ import annotations

import subprocess

import asyncpg
from tortoise import connections

from app.auth.principal import SYSTEM
from app.common.changes import Change, ChangeKind, Entity, dispatch


async def reset_postgres() -> None:
    """Empty the domain tables (the schema stays), and say so like every write does (caches listen).

    A session that still holds a lock on these tables is a leak in the test before: the reset fails at once
    naming that session (and the local process that owns its socket), instead of timing out.
    """
    async with connections.get("default").acquire_connection() as conn:
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '2s'")
                await conn.execute("TRUNCATE task_tags, tasks, tags")
        except asyncpg.LockNotAvailableError:
            raise AssertionError("the test tables are locked by: " + await _lock_holders(conn)) from None
    await dispatch([Change(Entity.TASK, ChangeKind.DELETED, ()), Change(Entity.TAG, ChangeKind.DELETED, ())])


async def reset_mongo() -> None:
    """Remove every user document."""
    from app.users.documents import User

    await User.get_pymongo_collection().delete_many({})
    await dispatch([Change(Entity.USER, ChangeKind.DELETED, ())])


async def seed_board(*, tasks: int = 120, people: int = 7, labels: int = 4) -> None:
    """The board the round-trip and trace tests read: tasks with two tags each, assignees cycling over people."""
    from app.tags import service as tag_service
    from app.tasks import service as task_service
    from app.tasks.service import TaskUpsert
    from app.users import service as user_service

    users = [
        await user_service.create_user(email=f"p{i}@example.com", name=f"P{i}", actor=SYSTEM) for i in range(people)
    ]
    tags = [await tag_service.create_tag(name=f"tag{i}", color="#123456", actor=SYSTEM) for i in range(labels)]
    await task_service.bulk_upsert_tasks(
        items=[
            TaskUpsert(
                title=f"task {i}", assignee_id=str(users[i % people].id),
                tag_ids=[tags[i % labels].id, tags[(i + 1) % labels].id],
            )
            for i in range(tasks)
        ],
        actor=SYSTEM,
    )


async def _lock_holders(conn: asyncpg.Connection) -> str:
    rows = await conn.fetch(
        "SELECT a.pid, a.client_port, a.state, now() - a.xact_start AS open_for, a.query FROM pg_stat_activity a "
        "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.pid IN "
        "(SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname IN ('tasks', 'tags', 'task_tags'))"
    )
    sockets = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True).stdout
    found = []
    for row in rows:
        owner = [line.split()[-1] for line in sockets.splitlines() if f":{row['client_port']} " in line]
        found.append(f"pid {row['pid']} ({row['state']}, open {row['open_for']}, socket {owner}): {row['query']!r}")
    return "; ".join(found) or "nobody (the lock was released meanwhile)"
