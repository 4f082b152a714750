"""Named data migrations: run once, recorded, idempotent, dry-runnable, rolled back on failure."""

from __future__ import annotations

import asyncio
import re

import pytest
from bson import ObjectId

from app.common.changes import Change, ChangeKind, Entity
from app.data_migrations.add_default_tags import DEFAULT_TAGS
from app.data_migrations.migrate_user_settings import give_default_profiles
from app.data_migrations.registry import DataMigration, Outcome, UnknownDataMigration, load_registry
from app.data_migrations.runner import RunStatus, migration_states, run_migration, run_pending
from app.stores import mongo, sql
from app.users.documents import User, utcnow
from tests.data_migrations.support import MONGO_COMMANDS, ChangeLog, run_cli

pytestmark = pytest.mark.usefixtures("clean")

KNOWN = ["add-default-tags", "migrate-user-settings"]


async def tags_by_name() -> dict[str, str]:
    return {row["name"]: row["color"] for row in await sql.fetch("SELECT name, color FROM tags")}


async def recorded() -> list[str]:
    return [row["name"] for row in await sql.fetch("SELECT name FROM data_migrations ORDER BY name")]


async def insert_users(*, without_profile: int, missing_profile: int, with_profile: int) -> None:
    """Raw documents as older app versions stored them: profile null, profile absent, or set."""
    stamp = utcnow().replace(year=2020)
    documents = []
    for number in range(without_profile + missing_profile + with_profile):
        document = {"_id": ObjectId(), "email": f"user{number}@example.com", "created_at": stamp, "updated_at": stamp}
        if number < without_profile:
            document["profile"] = None
        elif number >= without_profile + missing_profile:
            document["profile"] = {"bio": "kept", "timezone": "Europe/Berlin", "settings": {"theme": "dark"}}
        documents.append(document)
    await mongo.database()["users"].insert_many(documents)


async def test_the_catalogue_lists_the_templates_migrations_in_order() -> None:
    registry = load_registry()

    assert [migration.name for migration in registry] == KNOWN
    assert all(migration.description for migration in registry)


async def test_add_default_tags_creates_five_tags_with_hex_colors_and_records_itself() -> None:
    result = await run_migration(name="add-default-tags")

    assert result.status is RunStatus.APPLIED
    assert result.outcome == Outcome(5, "added 5 tag(s): urgent, feature, bug, enhancement, documentation")
    tags = await tags_by_name()
    assert list(tags) == [name for name, _ in DEFAULT_TAGS]
    assert set(tags) == {"urgent", "feature", "bug", "enhancement", "documentation"}
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", color) for color in tags.values())
    assert len(set(tags.values())) == 5
    (state,) = [state for state in await migration_states() if state.name == "add-default-tags"]
    assert state.applied_at is not None and state.duration_ms is not None and state.duration_ms >= 0
    assert not state.pending


async def test_add_default_tags_leaves_existing_tags_untouched() -> None:
    # given tags that already exist, one of them a default name in another case and color
    await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'BUG', '#000000')")
    await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'backend', '#111111')")

    result = await run_migration(name="add-default-tags")

    assert result.outcome is not None and result.outcome.changed == 4
    tags = await tags_by_name()
    assert tags["BUG"] == "#000000" and "bug" not in tags
    assert tags["backend"] == "#111111"
    assert len(tags) == 6


async def test_a_recorded_migration_does_not_run_again() -> None:
    await run_migration(name="add-default-tags")
    await sql.execute("DELETE FROM tags WHERE name = 'urgent'")

    again = await run_migration(name="add-default-tags")

    assert again.status is RunStatus.ALREADY_APPLIED
    assert "urgent" not in await tags_by_name()
    assert await recorded() == ["add-default-tags"]


async def test_migrations_are_idempotent_even_when_their_record_is_gone() -> None:
    await insert_users(without_profile=3, missing_profile=0, with_profile=0)
    for name in KNOWN:
        await run_migration(name=name)
    before_tags = await tags_by_name()
    await sql.execute("DELETE FROM data_migrations")

    results = [await run_migration(name=name) for name in KNOWN]

    assert [result.status for result in results] == [RunStatus.APPLIED, RunStatus.APPLIED]
    assert [result.outcome.changed for result in results if result.outcome] == [0, 0]
    assert await tags_by_name() == before_tags


async def test_migrate_user_settings_gives_users_without_profile_the_default_one_in_batches() -> None:
    await insert_users(without_profile=10, missing_profile=10, with_profile=5)
    MONGO_COMMANDS.counts.clear()
    MONGO_COMMANDS.recording = True
    try:
        outcome = await give_default_profiles(dry_run=False, batch_size=8)
    finally:
        MONGO_COMMANDS.recording = False

    assert outcome.changed == 20
    # 20 users, 8 per batch: three updates (not one per user), one find per batch plus the final empty one
    assert MONGO_COMMANDS.counts["update"] == 3
    assert MONGO_COMMANDS.counts["find"] == 4
    users = await User.find_all().to_list()
    fixed = [user for user in users if user.profile and user.profile.timezone == "UTC"]
    kept = [user for user in users if user.profile and user.profile.timezone == "Europe/Berlin"]
    assert len(fixed) == 20 and len(kept) == 5
    assert all(user.profile.settings == {} and user.profile.bio is None for user in fixed)
    assert all(user.updated_at.year > 2020 for user in fixed)
    assert all(user.profile.settings == {"theme": "dark"} and user.updated_at.year == 2020 for user in kept)


async def test_dry_run_reports_what_would_change_and_writes_nothing() -> None:
    await insert_users(without_profile=2, missing_profile=3, with_profile=1)

    results = [result async for result in run_pending(dry_run=True)]

    assert [(result.name, result.status) for result in results] == [
        ("add-default-tags", RunStatus.DRY_RUN),
        ("migrate-user-settings", RunStatus.DRY_RUN),
    ]
    assert [result.outcome.changed for result in results if result.outcome] == [5, 5]
    assert await tags_by_name() == {}
    assert await recorded() == []
    assert await mongo.database()["users"].count_documents({"profile.timezone": "UTC"}) == 0


async def test_dry_run_from_the_command_line_writes_nothing() -> None:
    result = run_cli("data-migrate", "--all", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "add-default-tags: dry run: would add 5 tag(s)" in result.stdout
    assert await tags_by_name() == {}
    assert await recorded() == []


async def test_all_runs_pending_ones_in_order_and_list_shows_applied_and_pending() -> None:
    await run_migration(name="migrate-user-settings")

    listed = run_cli("data-migrate", "--list")
    ran = run_cli("data-migrate", "--all")
    relisted = run_cli("data-migrate", "--list")
    nothing_left = run_cli("data-migrate", "--all")

    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("add-default-tags") and " pending " in lines[0]
    assert lines[1].startswith("migrate-user-settings") and " applied " in lines[1]
    assert ran.returncode == 0, ran.stderr
    (ran_line,) = ran.stdout.splitlines()
    assert ran_line.startswith("add-default-tags: applied in ")
    assert all(" applied " in line for line in relisted.stdout.splitlines())
    assert nothing_left.stdout.strip() == "no pending data migrations"
    assert await recorded() == sorted(KNOWN)


async def test_unknown_name_exits_2_listing_the_known_names() -> None:
    result = run_cli("data-migrate", "add-defualt-tags")

    assert result.returncode == 2
    assert "unknown data migration 'add-defualt-tags'" in result.stderr
    assert all(name in result.stderr for name in KNOWN)
    assert result.stdout == ""


async def test_unknown_name_in_process_raises_a_not_found_error_naming_the_known_ones() -> None:
    with pytest.raises(UnknownDataMigration) as raised:
        await run_migration(name="nope")

    assert raised.value.code == "NOT_FOUND"
    assert raised.value.known == KNOWN


async def test_a_failing_migration_is_rolled_back_and_not_recorded(change_log: ChangeLog) -> None:
    async def half_then_fail(*, dry_run: bool) -> Outcome:
        await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'half', '#222222')")
        await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'bad', 'red')")
        return Outcome(2, "unreachable")

    registry = [*load_registry(), DataMigration("half-then-fail", "fails on its second insert", half_then_fail)]

    with pytest.raises(Exception, match="tags_color_check"):
        await run_migration(name="half-then-fail", registry=registry)

    assert await tags_by_name() == {}
    assert await recorded() == []
    assert (await migration_states(registry=registry))[-1].pending
    assert change_log.changes == []


async def test_all_stops_at_the_first_failure_keeping_the_ones_before() -> None:
    async def fail(*, dry_run: bool) -> Outcome:
        raise RuntimeError("boom")

    registry = [*load_registry()[:1], DataMigration("boom", "always fails", fail), *load_registry()[1:]]

    with pytest.raises(RuntimeError, match="boom"):
        async for _ in run_pending(registry=registry):
            pass

    assert await recorded() == ["add-default-tags"]


async def test_two_concurrent_runs_of_one_migration_apply_it_once() -> None:
    calls = 0

    async def slow(*, dry_run: bool) -> Outcome:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)
        return Outcome(1, "slow")

    registry = [DataMigration("slow", "takes a while", slow)]

    first, second = await asyncio.gather(
        run_migration(name="slow", registry=registry), run_migration(name="slow", registry=registry)
    )

    assert sorted(result.status.value for result in (first, second)) == ["already applied", "applied"]
    assert calls == 1


async def test_changes_are_announced_after_the_commit(change_log: ChangeLog) -> None:
    await insert_users(without_profile=1, missing_profile=0, with_profile=0)

    async for _ in run_pending():
        pass

    tag_ids = {row["id"] for row in await sql.fetch("SELECT id::text AS id FROM tags")}
    kinds = [(change.entity, change.kind) for change in change_log.changes]
    assert kinds == [(Entity.TAG, ChangeKind.CREATED), (Entity.USER, ChangeKind.UPDATED)]
    assert set(change_log.changes[0].ids) == tag_ids
    assert change_log.changes[1] == Change(Entity.USER, ChangeKind.UPDATED, ids=())


async def test_the_command_needs_exactly_one_of_name_all_or_list() -> None:
    for args in ((), ("add-default-tags", "--all"), ("--all", "--list")):
        result = run_cli("data-migrate", *args)

        assert result.returncode == 2, args
        assert "give one of NAME, --all or --list" in result.stderr
    assert await recorded() == []
