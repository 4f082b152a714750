"""Test data helpers: reset the stores between tests, insert rows directly."""

from __future__ import annotations

from app.stores import sql


async def reset_postgres() -> None:
    """Empty the domain tables (the schema stays)."""
    await sql.execute("TRUNCATE task_tags, tasks, tags")


async def reset_mongo() -> None:
    """Remove every user document."""
    from app.users.documents import User

    await User.get_pymongo_collection().delete_many({})
