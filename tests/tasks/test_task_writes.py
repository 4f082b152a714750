"""Task writes: validation before any write, transactions, partial updates, soft delete, tags, events after commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.auth.principal import SYSTEM
from app.common import changes
from app.common.changes import Change, ChangeKind
from app.common.errors import NotFound, ValidationFailed
from app.stores import sql
from app.tags import service as tags
from app.tasks import service as tasks
from app.tasks.models import Priority, TaskStatus
from app.users.documents import User


@pytest.fixture
def emitted():
    """The change notices dispatched (after commit) during the test."""
    seen: list[Change] = []

    async def listener(batch: list[Change]) -> None:
        seen.extend(batch)

    changes.add_listener(listener)
    yield seen
    changes.remove_listener(listener)


async def count(table: str) -> int:
    return await sql.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - test helper, fixed names


async def test_create_with_tags_and_assignee(emitted: list[Change]) -> None:
    user = await User(email="ada@example.com", name="Ada").insert()
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    task = await tasks.create_task(
        title="  Fix login  ", description="details", priority=Priority.HIGH, due_date=due,
        assignee_id=str(user.id), tag_ids=[bug.id, bug.id],
                                  actor=SYSTEM,
    )

    assert (task.title, task.status, task.priority, task.due_date) == ("Fix login", TaskStatus.TODO, Priority.HIGH, due)
    assert task.assignee_id == str(user.id)
    assert task.id[14] == "7"  # UUIDv7
    assert await sql.fetchval("SELECT count(*) FROM task_tags WHERE task_id = $1::uuid", task.id) == 1
    assert [c.kind for c in emitted if c.entity is changes.Entity.TASK] == [ChangeKind.CREATED]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "ok", "description": "d" * 10_001}, "description"),
        ({"title": "ok", "assignee_id": "not-an-id"}, "assigneeId"),
        ({"title": "ok", "assignee_id": "5f0000000000000000000000"}, "assigneeId"),
        ({"title": "ok", "tag_ids": ["00000000-0000-7000-8000-000000000000"]}, "tagIds.0"),
        ({"title": "ok", "tag_ids": ["nope"]}, "tagIds.0"),
    ],
)
async def test_invalid_input_is_rejected_and_nothing_is_written(kwargs: dict, field: str, emitted: list) -> None:
    with pytest.raises(ValidationFailed) as error:
        await tasks.create_task(**kwargs, actor=SYSTEM)
    assert error.value.errors[0].field == field
    assert await count("tasks") == 0
    assert emitted == []


async def test_title_of_exactly_200_characters_is_accepted() -> None:
    task = await tasks.create_task(title="x" * 200, actor=SYSTEM)
    assert len(task.title) == 200


async def test_partial_update_leaves_unset_fields_and_null_clears(emitted: list[Change]) -> None:
    task = await tasks.create_task(
        title="t", description="keep me", due_date=datetime(2030, 1, 1, tzinfo=UTC), actor=SYSTEM,
    )

    updated = await tasks.update_task(task_id=task.id, status=TaskStatus.IN_PROGRESS, due_date=None, actor=SYSTEM)

    assert updated.status is TaskStatus.IN_PROGRESS
    assert updated.description == "keep me"
    assert updated.due_date is None
    assert updated.created_at == task.created_at
    assert updated.updated_at > task.updated_at
    assert emitted[-1].kind is ChangeKind.UPDATED
    assert set(emitted[-1].fields) == {"status", "due_date"}


async def test_update_without_real_changes_writes_nothing(emitted: list[Change]) -> None:
    task = await tasks.create_task(title="same", actor=SYSTEM)
    emitted.clear()
    again = await tasks.update_task(task_id=task.id, title="same", actor=SYSTEM)
    assert again.updated_at == task.updated_at
    assert emitted == []


async def test_update_rejects_null_for_required_fields_and_unknown_task() -> None:
    task = await tasks.create_task(title="t", actor=SYSTEM)
    with pytest.raises(ValidationFailed):
        await tasks.update_task(task_id=task.id, title=None, actor=SYSTEM)
    with pytest.raises(ValidationFailed):
        await tasks.update_task(task_id=task.id, status=None, actor=SYSTEM)
    with pytest.raises(NotFound):
        await tasks.update_task(task_id="00000000-0000-7000-8000-000000000000", title="x", actor=SYSTEM)
    with pytest.raises(NotFound):
        await tasks.update_task(task_id="garbage", title="x", actor=SYSTEM)


async def test_soft_delete_hides_and_restore_brings_back(emitted: list[Change]) -> None:
    task = await tasks.create_task(title="t", actor=SYSTEM)
    deleted = await tasks.soft_delete_task(task_id=task.id, actor=SYSTEM)
    assert deleted.deleted_at is not None
    assert await tasks.get_task(task_id=task.id) is None
    assert (await tasks.get_task(task_id=task.id, include_deleted=True)).id == task.id
    with pytest.raises(NotFound):
        await tasks.soft_delete_task(task_id=task.id, actor=SYSTEM)
    with pytest.raises(NotFound):
        await tasks.update_task(task_id=task.id, title="nope", actor=SYSTEM)

    restored = await tasks.restore_task(task_id=task.id, actor=SYSTEM)
    assert restored.deleted_at is None
    with pytest.raises(NotFound):
        await tasks.restore_task(task_id=task.id, actor=SYSTEM)
    kinds = [c.kind for c in emitted]
    assert kinds == [ChangeKind.CREATED, ChangeKind.DELETED, ChangeKind.RESTORED]
    assert emitted[1].snapshot["title"] == "t"


async def test_hard_delete_cascades_tag_links() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    task = await tasks.create_task(title="t", tag_ids=[bug.id], actor=SYSTEM)
    gone = await tasks.delete_task(task_id=task.id, actor=SYSTEM)
    assert gone is not None and gone.id == task.id
    assert await tasks.delete_task(task_id=task.id, actor=SYSTEM) is None
    assert await count("task_tags") == 0
    assert await count("tags") == 1


async def test_add_tags_is_idempotent_and_unknown_tag_writes_nothing(emitted: list[Change]) -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    ui = await tags.create_tag(name="ui", color="#00ff00", actor=SYSTEM)
    task = await tasks.create_task(title="t", actor=SYSTEM)
    emitted.clear()

    await tasks.add_tags(task_id=task.id, tag_ids=[bug.id], actor=SYSTEM)
    await tasks.add_tags(task_id=task.id, tag_ids=[bug.id], actor=SYSTEM)
    assert [c.kind for c in emitted] == [ChangeKind.TAGS_CHANGED]  # the second call changed nothing

    with pytest.raises(ValidationFailed):
        await tasks.add_tags(task_id=task.id, tag_ids=[ui.id, "00000000-0000-7000-8000-000000000000"], actor=SYSTEM)
    linked = await sql.fetch("SELECT tag_id FROM task_tags WHERE task_id = $1::uuid", task.id)
    assert [str(r["tag_id"]) for r in linked] == [bug.id]

    await tasks.remove_tags(task_id=task.id, tag_ids=[bug.id, ui.id], actor=SYSTEM)
    assert await count("task_tags") == 0


async def test_rolled_back_transaction_leaves_nothing_and_emits_nothing(emitted: list[Change]) -> None:
    with pytest.raises(RuntimeError):
        async with sql.transaction():
            await sql.execute("INSERT INTO tasks (id, title) VALUES (gen_random_uuid(), 'ghost')")
            await changes.emit(Change(changes.Entity.TASK, ChangeKind.CREATED, ("x",)))
            raise RuntimeError("a later step failed")
    assert await count("tasks") == 0
    assert emitted == []


async def test_failing_step_inside_a_service_rolls_back_the_task_row() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    # The tag disappears between validation and the link insert: the FK fails, the task row must go too.
    await sql.execute(
        "CREATE OR REPLACE FUNCTION tb_test_drop_tag() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM tags WHERE name = 'bug'; RETURN NEW; END $$"
    )
    await sql.execute("CREATE TRIGGER tb_test_drop_tag AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION tb_test_drop_tag()")
    try:
        with pytest.raises(Exception):  # noqa: B017 - the FK violation from the database
            await tasks.create_task(title="t", tag_ids=[bug.id], actor=SYSTEM)
    finally:
        await sql.execute("DROP TRIGGER tb_test_drop_tag ON tasks")
        await sql.execute("DROP FUNCTION tb_test_drop_tag()")
    assert await count("tasks") == 0
    assert await count("tags") == 1


async def test_updated_at_is_maintained_by_the_database_for_any_update() -> None:
    task = await tasks.create_task(title="t", actor=SYSTEM)
    await sql.execute("UPDATE tasks SET title = 'raw', updated_at = '2000-01-01' WHERE id = $1::uuid", task.id)
    row = await tasks.get_task(task_id=task.id)
    assert row.updated_at > task.updated_at
    assert row.updated_at > datetime.now(UTC) - timedelta(minutes=5)


async def test_a_nested_transaction_joins_the_outer_one(emitted: list[Change]) -> None:
    async with sql.transaction() as outer:
        async with sql.transaction() as inner:
            assert inner is outer
            await tasks.create_task(title="inner", actor=SYSTEM)
        assert emitted == []  # the inner block's end is no commit
        assert await count("tasks") == 1
    assert [c.kind for c in emitted] == [ChangeKind.CREATED]

    with pytest.raises(RuntimeError):
        async with sql.transaction():
            async with sql.transaction():
                await tasks.create_task(title="doomed", actor=SYSTEM)
            raise RuntimeError("the outer block fails after the inner one finished")
    assert await count("tasks") == 1
    assert len(emitted) == 1
