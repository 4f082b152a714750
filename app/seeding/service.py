"""Seed PostgreSQL (COPY, one transaction) and MongoDB (insert_many) with deterministic fake data."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from app.common.changes import Change, ChangeKind, Entity, emit
from app.common.errors import Conflict, Forbidden, invalid
from app.data_migrations.add_default_tags import DEFAULT_TAGS, default_tags, ensure_default_tags
from app.seeding import data
from app.seeding.plan import SeedPlan
from app.seeding.progress import Progress, SilentProgress
from app.stores import postgres, sql
from app.tasks.models import Task
from app.users.documents import User
from app.users.records import UserId

T = TypeVar("T")

USER_BATCH = 1000
TASK_BATCH = 5000


@dataclass(frozen=True)
class SeedReport:
    plan: SeedPlan
    cleared: bool
    tag_links: int
    seconds: float


class DatabaseNotEmpty(Conflict):
    """Seeding next to existing tasks or users would mix fake and real data (and may collide on emails)."""


class ClearRefused(Forbidden):
    """--clear against production needs an explicit confirmation."""


def check_clear_allowed(*, app_env: str, confirmed: bool) -> None:
    """Raise ClearRefused when clearing would wipe a prod database without confirmation."""
    if app_env == "prod" and not confirmed:
        raise ClearRefused("refusing to clear a prod database (APP_ENV=prod): add --yes if you really mean it")


async def is_empty() -> bool:
    """True when there are no tasks and no users (tags alone do not count: data migrations create them)."""
    has_task = await Task.exists()
    has_user = await User.find_one().project(UserId)
    return not has_task and has_user is None


async def _default_tag_ids(db: BaseDBAsyncClient) -> list[uuid.UUID]:
    """Ids of the default tags, in DEFAULT_TAGS order (so tag picks depend on the seed only)."""
    await ensure_default_tags(dry_run=False)
    by_name = {row["name_key"]: row["id"] for row in await default_tags(db).values("id", "name_key")}
    return [by_name[name] for name, _ in DEFAULT_TAGS]


async def seed_database(
    *,
    plan: SeedPlan,
    clear: bool = False,
    progress: Progress | None = None,
    task_batch: int = TASK_BATCH,
    user_batch: int = USER_BATCH,
) -> SeedReport:
    """Insert plan.users users and plan.tasks tasks (0-3 default tags each); clear first or require empty stores."""
    if plan.users < 0:
        raise invalid("users", "must be zero or more")
    if plan.tasks < 0:
        raise invalid("tasks", "must be zero or more")
    progress = progress or SilentProgress()
    started = time.perf_counter()
    user_documents = data.users(count=plan.users, seed=plan.seed)
    assignee_ids = [str(document["_id"]) for document in user_documents]
    links = 0
    # PostgreSQL first, MongoDB last, both before the commit: a failing COPY leaves both stores untouched.
    async with sql.transaction() as conn:
        db = postgres.client(conn)
        if clear:
            # Raw: Tortoise has no TRUNCATE. One statement, children first; CASCADE also empties tables other
            # features hang off tasks or tags.
            await db.execute_script("TRUNCATE task_tags, tasks, tags CASCADE")
        elif not await is_empty():
            raise DatabaseNotEmpty("the database already has tasks or users: seed with --clear to replace them")
        tag_ids = await _default_tag_ids(db)
        progress.start("tasks", plan.tasks)
        batches = data.task_batches(
            count=plan.tasks, seed=plan.seed, assignee_ids=assignee_ids, tag_ids=tag_ids, batch_size=task_batch
        )
        async for batch in _prefetched(batches):
            await _copy(db, batch)
            links += len(batch.links)
            progress.advance(len(batch.tasks))
        await _replace_users(user_documents, clear=clear, progress=progress, batch_size=user_batch)
        # Emitted inside the transaction: dispatched (cache invalidation) only once it commits.
        await emit(*(Change(entity, ChangeKind.UPDATED, ids=()) for entity in (Entity.TASK, Entity.TAG, Entity.USER)))
    return SeedReport(plan=plan, cleared=clear, tag_links=links, seconds=time.perf_counter() - started)


async def _copy(db: BaseDBAsyncClient, batch: data.TaskBatch) -> None:
    # Raw COPY on the transaction's asyncpg connection: Tortoise cannot express COPY (bulk_create executes
    # one INSERT per row), and COPY is what makes seeding 100,000 tasks quick.
    async with db.acquire_connection() as raw:
        await raw.copy_records_to_table("tasks", records=batch.tasks, columns=data.TASK_COLUMNS)
        if batch.links:
            await raw.copy_records_to_table("task_tags", records=batch.links, columns=data.TASK_TAG_COLUMNS)


async def _prefetched(items: Iterator[T]) -> AsyncIterator[T]:
    """Yield items, building the next one in a worker thread while the caller writes the current one.

    Generating rows is Python work and COPY is PostgreSQL work: overlapping them uses both cores
    (about a third faster for 100,000 tasks).
    """
    pending = asyncio.ensure_future(asyncio.to_thread(next, items, None))
    try:
        while (item := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, items, None))
            yield item
    finally:
        pending.cancel()


async def _replace_users(documents: list[dict], *, clear: bool, progress: Progress, batch_size: int) -> None:
    # Each generated document is validated as a User (what the app reads back); Beanie's insert_many skips
    # the before_event hooks, so the documents keep their own created_at/updated_at.
    if clear:
        await User.delete_all()
    progress.start("users", len(documents))
    for start in range(0, len(documents), batch_size):
        chunk = documents[start : start + batch_size]
        await User.insert_many([User.model_validate(document) for document in chunk], ordered=False)
        progress.advance(len(chunk))
