"""Bulk upsert: one transaction, a fixed number of statements whatever the row count, all-or-nothing."""

from __future__ import annotations

import pytest

from app.auth.principal import SYSTEM
from app.common.errors import ValidationFailed
from app.stores import sql
from app.stores.query_log import record_statements
from app.tags import service as tags
from app.tasks import service as tasks
from app.tasks.models import Priority, TaskStatus
from app.tasks.service import TaskUpsert


async def test_creates_and_replaces_and_sets_tags() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    existing = await tasks.create_task(title="old", description="old text", tag_ids=[bug.id], actor=SYSTEM)

    result = await tasks.bulk_upsert_tasks(
        items=[
            TaskUpsert(id=existing.id, title="renamed", status=TaskStatus.COMPLETED, tag_ids=[]),
            TaskUpsert(title="new one", priority=Priority.HIGH, tag_ids=[bug.id]),
        ],
        actor=SYSTEM,
    )

    assert result.updated_ids == [existing.id]
    assert len(result.created_ids) == 1
    renamed = await tasks.get_task(task_id=existing.id)
    assert (renamed.title, renamed.status, renamed.description) == ("renamed", TaskStatus.COMPLETED, None)
    assert renamed.created_at == existing.created_at
    links = await sql.fetch("SELECT task_id::text AS task_id FROM task_tags")
    assert [r["task_id"] for r in links] == result.created_ids


async def test_tags_left_alone_when_not_given() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    existing = await tasks.create_task(title="old", tag_ids=[bug.id], actor=SYSTEM)
    await tasks.bulk_upsert_tasks(items=[TaskUpsert(id=existing.id, title="new")], actor=SYSTEM)
    assert await sql.fetchval("SELECT count(*) FROM task_tags") == 1


@pytest.mark.parametrize("size", [10, 300])
async def test_statement_count_does_not_depend_on_row_count(size: int) -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    items = [TaskUpsert(title=f"t{i}", tag_ids=[bug.id]) for i in range(size)]
    with record_statements() as statements:
        result = await tasks.bulk_upsert_tasks(items=items, actor=SYSTEM)
    assert len(result.created_ids) == size
    assert await sql.fetchval("SELECT count(*) FROM task_tags") == size
    # BEGIN, tag check, lock old rows (for the audit), upsert, delete old links, insert links, audit rows, COMMIT
    assert statements.count == 8


async def test_one_bad_item_rejects_the_whole_batch_before_writing() -> None:
    items = [TaskUpsert(title="fine"), TaskUpsert(title=""), TaskUpsert(title="x" * 300)]
    with pytest.raises(ValidationFailed) as error:
        await tasks.bulk_upsert_tasks(items=items, actor=SYSTEM)
    assert [e.field for e in error.value.errors] == ["items.1.title", "items.2.title"]
    assert await sql.fetchval("SELECT count(*) FROM tasks") == 0


async def test_duplicate_ids_and_unknown_tags_are_rejected() -> None:
    task = await tasks.create_task(title="a", actor=SYSTEM)
    with pytest.raises(ValidationFailed):
        await tasks.bulk_upsert_tasks(
            items=[TaskUpsert(id=task.id, title="x"), TaskUpsert(id=task.id, title="y")], actor=SYSTEM,
        )
    with pytest.raises(ValidationFailed):
        await tasks.bulk_upsert_tasks(
            items=[TaskUpsert(title="z", tag_ids=["00000000-0000-7000-8000-000000000000"])], actor=SYSTEM
        )
    assert await sql.fetchval("SELECT count(*) FROM tasks") == 1
    assert (await tasks.get_task(task_id=task.id)).title == "a"


async def test_too_many_items_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        await tasks.bulk_upsert_tasks(items=[TaskUpsert(title="t")] * (tasks.BULK_MAX + 1), actor=SYSTEM)
