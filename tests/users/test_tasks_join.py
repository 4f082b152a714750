"""Users joined with tasks across the two stores: delete unassigns, dangling ids, stats, date-range lookups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from app.auth.principal import SYSTEM
from app.common.changes import Change, ChangeKind, Entity
from app.common.errors import ValidationFailed
from app.stores import sql
from app.stores.query_log import record_statements
from app.tasks import assignments
from app.users import service
from app.users.documents import User
from tests.users.conftest import CommandLog
from tests.users.helpers import assignee_of, insert_task

T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def test_delete_user_removes_the_document_and_unassigns_their_tasks(emitted: list[Change]) -> None:
    user = await service.create_user(email="gone@example.com", actor=SYSTEM)
    other = await service.create_user(email="stays@example.com", actor=SYSTEM)
    theirs = [await insert_task(assignee_id=str(user.id)), await insert_task(assignee_id=str(user.id), deleted_at=T0)]
    kept = await insert_task(assignee_id=str(other.id))
    emitted.clear()

    deleted = await service.delete_user(user_id=str(user.id), actor=SYSTEM)

    assert deleted is True
    assert await User.get(user.id) is None
    assert [await assignee_of(t) for t in theirs] == [None, None]
    assert await assignee_of(kept) == str(other.id)
    assert emitted[0] == Change(Entity.USER, ChangeKind.DELETED, ids=(str(user.id),))
    assert emitted[1].entity is Entity.TASK and emitted[1].kind is ChangeKind.UPDATED
    assert sorted(emitted[1].ids) == sorted(theirs) and emitted[1].fields == ("assignee_id",)


@pytest.mark.parametrize("user_id", ["junk", str(ObjectId())])
async def test_delete_of_a_missing_user_is_false(user_id: str, emitted: list[Change]) -> None:
    assert await service.delete_user(user_id=user_id, actor=SYSTEM) is False
    assert emitted == []


async def test_repeating_a_half_done_delete_finishes_it() -> None:
    # Given a crash after the document was deleted but before the tasks were unassigned
    user = await service.create_user(email="half@example.com", actor=SYSTEM)
    task = await insert_task(assignee_id=str(user.id))
    await User.get_pymongo_collection().delete_one({"_id": user.id})

    # then readers see no assignee, and a repeated delete completes the job
    assert await service.get_users_by_ids(ids=[str(user.id)]) == [None]
    assert await service.delete_user(user_id=str(user.id), actor=SYSTEM) is False
    assert await assignee_of(task) is None


async def test_repair_unassigns_only_dangling_assignees_in_batches(emitted: list[Change]) -> None:
    alive = [await service.create_user(email=f"alive{i}@example.com", actor=SYSTEM) for i in range(3)]
    gone = [str(ObjectId()) for _ in range(4)] + ["not-an-object-id"]
    alive_tasks = [await insert_task(assignee_id=str(user.id)) for user in alive]
    dangling_tasks = [await insert_task(assignee_id=ghost) for ghost in gone for _ in range(2)]
    unassigned = await insert_task(assignee_id=None)
    emitted.clear()

    repaired = await assignments.repair_dangling_assignees(batch_size=2)

    assert repaired == len(dangling_tasks) == 10
    assert [await assignee_of(t) for t in dangling_tasks] == [None] * 10
    assert [await assignee_of(t) for t in alive_tasks] == [str(u.id) for u in alive]
    assert await assignee_of(unassigned) is None
    assert sorted(i for change in emitted for i in change.ids) == sorted(dangling_tasks)
    assert all(change.fields == ("assignee_id",) for change in emitted)
    assert await assignments.repair_dangling_assignees(batch_size=2) == 0


async def test_unassign_returns_the_task_ids() -> None:
    user_id = str(ObjectId())
    tasks = {await insert_task(assignee_id=user_id) for _ in range(3)}

    assert set(await assignments.unassign_user_tasks(user_id=user_id)) == tasks
    assert await assignments.unassign_user_tasks(user_id=user_id) == []


async def direct_counts(user_id: str) -> tuple[int, int, int]:
    row = await sql.fetchrow(
        """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
               count(*) FILTER (WHERE status = 'IN_PROGRESS') AS in_progress
        FROM tasks WHERE assignee_id = $1 AND deleted_at IS NULL
        """,
        user_id,
    )
    assert row is not None
    return row["total"], row["completed"], row["in_progress"]


async def test_user_stats_match_direct_counts_in_one_sql_query_and_one_find(mongo_commands: CommandLog) -> None:
    users = [await service.create_user(email=f"s{i}@example.com", actor=SYSTEM) for i in range(4)]
    statuses = ["TODO", "COMPLETED", "IN_PROGRESS", "COMPLETED", "CANCELLED"]
    for i, user in enumerate(users[:3]):
        for status in statuses[: i + 2]:
            await insert_task(assignee_id=str(user.id), status=status)
    await insert_task(assignee_id=str(users[0].id), status="COMPLETED", deleted_at=T0)  # soft-deleted: not counted
    ghost = str(ObjectId())
    await insert_task(assignee_id=ghost)
    ids = [str(users[3].id), str(users[1].id), ghost, str(users[0].id), str(users[2].id)]
    mongo_commands.commands.clear()

    with record_statements() as recorded:
        stats = await service.user_stats(user_ids=ids)

    assert recorded.count == 1
    assert mongo_commands.commands == ["find"]
    assert [s.user_id for s in stats] == ids
    assert [s.user.email if s.user else None for s in stats] == [
        "s3@example.com",
        "s1@example.com",
        None,
        "s0@example.com",
        "s2@example.com",
    ]
    for s in stats:
        assert (s.task_count, s.completed_count, s.in_progress_count) == await direct_counts(s.user_id)
    assert [s.task_count for s in stats] == [0, 3, 1, 2, 4]


async def test_user_stats_without_ids_covers_every_assignee_by_most_tasks() -> None:
    a = await service.create_user(email="a@example.com", actor=SYSTEM)
    b = await service.create_user(email="b@example.com", actor=SYSTEM)
    await service.create_user(email="idle@example.com", actor=SYSTEM)
    for _ in range(3):
        await insert_task(assignee_id=str(b.id))
    await insert_task(assignee_id=str(a.id), status="COMPLETED")
    await insert_task(assignee_id=None)

    stats = await service.user_stats()

    assert [(s.user.email if s.user else None, s.task_count, s.completed_count) for s in stats] == [
        ("b@example.com", 3, 0),
        ("a@example.com", 1, 1),
    ]


async def test_user_stats_for_no_ids_asks_nothing(mongo_commands: CommandLog) -> None:
    mongo_commands.commands.clear()

    with record_statements() as recorded:
        assert await service.user_stats(user_ids=[]) == []

    assert recorded.count == 0 and mongo_commands.commands == []


async def test_users_with_tasks_created_between(mongo_commands: CommandLog) -> None:
    early = await service.create_user(email="early@example.com", actor=SYSTEM)
    inside = await service.create_user(email="inside@example.com", actor=SYSTEM)
    edge = await service.create_user(email="edge@example.com", actor=SYSTEM)
    deleted_only = await service.create_user(email="deleted@example.com", actor=SYSTEM)
    await insert_task(assignee_id=str(early.id), created_at=T0 - timedelta(seconds=1))
    await insert_task(assignee_id=str(inside.id), created_at=T0 + timedelta(hours=1))
    await insert_task(assignee_id=str(inside.id), created_at=T0 + timedelta(hours=2))
    await insert_task(assignee_id=str(edge.id), created_at=T0)
    await insert_task(assignee_id=str(edge.id), created_at=T0 + timedelta(days=1))  # end is exclusive
    await insert_task(assignee_id=str(deleted_only.id), created_at=T0, deleted_at=T0)
    await insert_task(assignee_id=str(ObjectId()), created_at=T0)  # dangling: skipped
    mongo_commands.commands.clear()

    with record_statements() as recorded:
        users = await service.users_with_tasks_created_between(start=T0, end=T0 + timedelta(days=1))

    assert sorted(u.email for u in users) == ["edge@example.com", "inside@example.com"]
    assert recorded.count == 1 and mongo_commands.commands == ["find"]
    naive_start, naive_end = T0.replace(tzinfo=None), (T0 + timedelta(hours=1, seconds=1)).replace(tzinfo=None)
    naive = await service.users_with_tasks_created_between(start=naive_start, end=naive_end)
    assert sorted(u.email for u in naive) == ["edge@example.com", "inside@example.com"]
    with pytest.raises(ValidationFailed):
        await service.users_with_tasks_created_between(start=T0, end=T0 - timedelta(seconds=1))
