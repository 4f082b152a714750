"""The seeder: deterministic, bulk, valid relations, guarded clears, cache invalidation, --if-empty."""

from __future__ import annotations

import io
import logging
import uuid
from collections import Counter
from typing import Any

import pytest

from app.cache import keys as cache_keys
from app.common.changes import Change, ChangeKind, Entity
from app.data_migrations.add_default_tags import DEFAULT_TAGS
from app.seeding import data
from app.seeding.plan import SeedPlan
from app.seeding.progress import LogProgress, progress_for
from app.seeding.service import ClearRefused, DatabaseNotEmpty, check_clear_allowed, seed_database
from app.stores import mongo, query_log, redis, sql
from app.users.documents import User
from tests.data_migrations.support import MONGO_COMMANDS, ChangeLog, run_cli

pytestmark = pytest.mark.usefixtures("clean")

DEFAULT_TAG_NAMES = [name for name, _ in DEFAULT_TAGS]


async def snapshot() -> dict[str, Any]:
    """Everything the seeder wrote, in a stable order; tags by name (their ids are minted by the migration)."""
    tasks = await sql.fetch("SELECT * FROM tasks ORDER BY id")
    links = await sql.fetch(
        "SELECT tt.task_id, t.name FROM task_tags tt JOIN tags t ON t.id = tt.tag_id ORDER BY tt.task_id, t.name"
    )
    users = await mongo.database()["users"].find({}).sort("_id", 1).to_list()
    tags = await sql.fetch("SELECT name, color FROM tags ORDER BY name")
    return {
        "tasks": [dict(row) for row in tasks],
        "links": [tuple(row) for row in links],
        "users": users,
        "tags": [tuple(row) for row in tags],
    }


async def counts() -> tuple[int, int]:
    """(tasks, users)"""
    return await sql.fetchval("SELECT count(*) FROM tasks"), await mongo.database()["users"].count_documents({})


async def test_the_same_seed_gives_identical_data_and_another_seed_does_not() -> None:
    plan = SeedPlan(users=15, tasks=120, seed=7)

    await seed_database(plan=plan, clear=True)
    first = await snapshot()
    await seed_database(plan=plan, clear=True)
    second = await snapshot()
    await seed_database(plan=SeedPlan(users=15, tasks=120, seed=8), clear=True)
    other = await snapshot()

    assert len(first["tasks"]) == 120 and len(first["users"]) == 15
    assert first == second
    assert [user["email"] for user in other["users"]] != [user["email"] for user in first["users"]]
    assert [task["title"] for task in other["tasks"]] != [task["title"] for task in first["tasks"]]


async def test_generated_rows_do_not_depend_on_the_batch_size_or_the_number_of_tasks() -> None:
    users = data.users(count=30, seed=3)
    ids = [str(user["_id"]) for user in users]
    tags = [uuid.UUID(int=number) for number in range(1, 6)]

    def tasks(batch_size: int) -> list[tuple]:
        batches = data.task_batches(count=50, seed=3, assignee_ids=ids, tag_ids=tags, batch_size=batch_size)
        return [row for batch in batches for row in batch.tasks]

    assert tasks(7) == tasks(5000)
    assert data.users(count=10, seed=3) == users[:10]


async def test_seeded_counts_and_relations_are_valid_and_look_realistic() -> None:
    plan = SeedPlan(users=40, tasks=600, seed=11)

    report = await seed_database(plan=plan)

    tasks = await sql.fetch("SELECT * FROM tasks")
    links = await sql.fetch("SELECT task_id, tag_id FROM task_tags")
    tags = {row["id"]: row["name"] for row in await sql.fetch("SELECT id, name FROM tags")}
    users = await User.find_all().to_list()  # parses every document: the shape is what the app reads
    assert (len(tasks), len(users), len(links)) == (600, 40, report.tag_links)
    assert sorted(tags.values()) == sorted(DEFAULT_TAG_NAMES)
    # relations
    user_ids = {str(user.id) for user in users}
    assignees = Counter(task["assignee_id"] for task in tasks)
    assert set(assignees) - {None} <= user_ids
    tags_per_task = Counter(link["task_id"] for link in links)
    assert set(tags_per_task) <= {task["id"] for task in tasks}
    assert all(link["tag_id"] in tags for link in links)
    assert set(Counter(tags_per_task.get(task["id"], 0) for task in tasks)) == {0, 1, 2, 3}
    # users
    assert len({user.email for user in users}) == 40
    assert all(user.profile is not None and user.profile.timezone for user in users)
    assert all(user.created_at <= user.updated_at for user in users)
    # distributions: every status and priority, most but not all tasks assigned and due
    statuses = Counter(task["status"] for task in tasks)
    assert set(statuses) == {"TODO", "IN_PROGRESS", "COMPLETED", "CANCELLED"}
    assert statuses["TODO"] > statuses["CANCELLED"]
    priorities = Counter(task["priority"] for task in tasks)
    assert set(priorities) == {1, 2, 3} and priorities[2] > priorities[3]
    assert 0.05 < assignees[None] / 600 < 0.3
    due = [task for task in tasks if task["due_date"] is not None]
    assert 0.5 < len(due) / 600 < 0.9
    assert all(task["due_date"] > task["created_at"] for task in due)
    assert all(task["created_at"] <= task["updated_at"] for task in tasks)
    assert len(assignees) > 20  # work is spread over many people, not one


async def test_seeding_writes_in_bulk_whatever_the_size() -> None:
    async def round_trips(plan: SeedPlan) -> tuple[int, Counter[str]]:
        MONGO_COMMANDS.counts.clear()
        MONGO_COMMANDS.recording = True
        try:
            with query_log.record_statements() as recorder:
                await seed_database(plan=plan, clear=True, task_batch=1000)
        finally:
            MONGO_COMMANDS.recording = False
        return recorder.count, Counter(MONGO_COMMANDS.counts)

    small_sql, small_mongo = await round_trips(SeedPlan(users=2, tasks=10, seed=1))
    large_sql, large_mongo = await round_trips(SeedPlan(users=1500, tasks=3000, seed=1))

    # Rows go by COPY (3 batches here) and insert_many; the other statements do not grow with the data.
    assert large_sql == small_sql < 15
    assert (small_mongo["insert"], large_mongo["insert"]) == (1, 2)
    assert await counts() == (3000, 1500)


async def test_seeding_a_database_with_tasks_or_users_is_refused_without_clear(change_log: ChangeLog) -> None:
    await seed_database(plan=SeedPlan(users=3, tasks=5, seed=1))
    before = await snapshot()
    change_log.changes.clear()

    with pytest.raises(DatabaseNotEmpty, match="--clear"):
        await seed_database(plan=SeedPlan(users=3, tasks=5, seed=2))

    assert await snapshot() == before
    assert change_log.changes == []


async def test_tags_alone_do_not_make_the_database_non_empty() -> None:
    await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'Bug', '#123456')")

    await seed_database(plan=SeedPlan(users=2, tasks=20, seed=1))

    tags = {row["name"]: row["color"] for row in await sql.fetch("SELECT name, color FROM tags")}
    assert tags["Bug"] == "#123456" and len(tags) == 5


async def test_clear_replaces_everything_in_dependency_order() -> None:
    await seed_database(plan=SeedPlan(users=5, tasks=50, seed=1))
    await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'legacy', '#333333')")

    await seed_database(plan=SeedPlan(users=4, tasks=30, seed=2), clear=True)

    assert await counts() == (30, 4)
    assert sorted(row["name"] for row in await sql.fetch("SELECT name FROM tags")) == sorted(DEFAULT_TAG_NAMES)


async def test_seeding_announces_that_every_task_tag_and_user_may_have_changed(change_log: ChangeLog) -> None:
    await seed_database(plan=SeedPlan(users=2, tasks=5, seed=1))

    updated = [change for change in change_log.changes if change.kind is ChangeKind.UPDATED]
    assert updated == [
        Change(Entity.TASK, ChangeKind.UPDATED, ids=()),
        Change(Entity.TAG, ChangeKind.UPDATED, ids=()),
        Change(Entity.USER, ChangeKind.UPDATED, ids=()),
    ]


async def test_negative_sizes_are_rejected() -> None:
    with pytest.raises(Exception, match="users: must be zero or more"):
        await seed_database(plan=SeedPlan(users=-1, tasks=5, seed=1))


# Prod refuses to start without a real token secret.
PROD_ENV = {"APP_ENV": "prod", "JWT_HS256_SECRET": "s" * 48}


async def test_clear_is_refused_in_prod_unless_confirmed() -> None:
    await seed_database(plan=SeedPlan(users=2, tasks=5, seed=1))

    refused = run_cli("seed", "--clear", "--users", "1", "--tasks", "1", env=PROD_ENV)

    assert refused.returncode == 2
    assert "refusing to clear a prod database" in refused.stderr and "--yes" in refused.stderr
    assert await counts() == (5, 2)
    with pytest.raises(ClearRefused):
        check_clear_allowed(app_env="prod", confirmed=False)
    check_clear_allowed(app_env="prod", confirmed=True)
    check_clear_allowed(app_env="dev", confirmed=False)

    confirmed = run_cli("seed", "--clear", "--yes", "--users", "1", "--tasks", "3", env=PROD_ENV)

    assert confirmed.returncode == 0, confirmed.stderr
    assert await counts() == (3, 1)


async def test_cli_seed_refuses_a_non_empty_database_with_exit_code_1() -> None:
    await seed_database(plan=SeedPlan(users=1, tasks=1, seed=1))

    result = run_cli("seed", "--users", "2", "--tasks", "2")

    assert result.returncode == 1
    assert "already has tasks or users" in result.stderr


async def test_if_empty_seeds_the_demo_set_once() -> None:
    first = run_cli("seed", "--if-empty")
    second = run_cli("seed", "--if-empty")

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("seeded 20 user(s), 200 task(s) and ")
    assert "with seed 42" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "nothing seeded" in second.stdout
    assert await counts() == (200, 20)


async def test_progress_is_plain_log_lines_when_not_on_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="taskboard.seeding")

    with progress_for(io.StringIO()) as progress:
        assert isinstance(progress, LogProgress)
        progress.start("tasks", 1000)
        for _ in range(40):
            progress.advance(25)

    lines = [record.getMessage() for record in caplog.records if record.name == "taskboard.seeding"]
    assert lines[0] == "seeding tasks: 0/1000"
    assert lines[-1] == "seeding tasks: 1000/1000"
    assert len(lines) == 11


async def test_seeding_from_the_command_line_invalidates_cached_results() -> None:
    # Every row shard's copy of each bulk stamp, and each collection stamp
    stamps = [stamp for entity in (Entity.TASK, Entity.TAG, Entity.USER) for stamp in cache_keys.bulk_stamps(entity)]
    stamps += [cache_keys.collection_stamp(entity) for entity in (Entity.TASK, Entity.TAG, Entity.USER)]
    await redis.client().mset({stamp: "before" for stamp in stamps})

    result = run_cli("seed", "--users", "2", "--tasks", "5")

    assert result.returncode == 0, result.stderr
    after = await redis.client().mget(stamps)
    assert all(value not in (None, b"before") for value in after), after
