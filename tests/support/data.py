"""Test data helpers: reset the stores between tests, insert rows directly."""

from __future__ import annotations

from app.auth.principal import SYSTEM
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
