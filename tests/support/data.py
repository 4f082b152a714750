"""Test data helpers: reset the stores between tests, insert rows directly."""

from __future__ import annotations

from app.common.changes import Change, ChangeKind, Entity, dispatch
from app.stores import sql


async def reset_postgres() -> None:
    """Empty the domain tables (the schema stays), and say so like every write does (caches listen)."""
    await sql.execute("TRUNCATE task_tags, tasks, tags")
    await dispatch([Change(Entity.TASK, ChangeKind.DELETED, ()), Change(Entity.TAG, ChangeKind.DELETED, ())])


async def reset_mongo() -> None:
    """Remove every user document."""
    from app.users.documents import User

    await User.get_pymongo_collection().delete_many({})
    await dispatch([Change(Entity.USER, ChangeKind.DELETED, ())])
