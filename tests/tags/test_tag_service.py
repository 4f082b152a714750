"""Tags: unique names (case-insensitively), validated colors, counts, cascading delete."""

from __future__ import annotations

import pytest

from app.auth.principal import SYSTEM
from app.common.errors import Conflict, NotFound, ValidationFailed
from app.stores import sql
from app.stores.query_log import record_statements
from app.tags import service as tags
from app.tasks import service as tasks


async def test_create_normalises_and_lists_with_live_task_counts() -> None:
    bug = await tags.create_tag(name="  bug ", color="#FF0000", actor=SYSTEM)
    feature = await tags.create_tag(name="Feature", color="#00ff00", actor=SYSTEM)
    await tags.create_tag(name="idle", color="#0000ff", actor=SYSTEM)  # no link at all
    assert (bug.name, bug.color) == ("bug", "#ff0000")

    await tasks.create_task(title="a", tag_ids=[bug.id], actor=SYSTEM)
    gone = await tasks.create_task(title="b", tag_ids=[bug.id, feature.id], actor=SYSTEM)
    await tasks.soft_delete_task(task_id=gone.id, actor=SYSTEM)

    listed = [(entry.tag.name, entry.task_count) for entry in await tags.list_tags()]
    assert listed == [("bug", 1), ("Feature", 0), ("idle", 0)]  # by name, case-insensitively


@pytest.mark.parametrize("name", ["bug", "BUG", " Bug "])
async def test_duplicate_name_in_any_case_is_a_conflict(name: str) -> None:
    await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    with pytest.raises(Conflict):
        await tags.create_tag(name=name, color="#00ff00", actor=SYSTEM)
    assert await sql.fetchval("SELECT count(*) FROM tags") == 1


@pytest.mark.parametrize("color", ["red", "#fff", "#gggggg", "#ff00000", "", "#ff000"])
async def test_invalid_colors_are_rejected_before_writing(color: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        await tags.create_tag(name="x", color=color, actor=SYSTEM)
    assert error.value.errors[0].field == "color"
    assert await sql.fetchval("SELECT count(*) FROM tags") == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 51, "bad\nname"])
async def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(ValidationFailed):
        await tags.create_tag(name=name, color="#000000", actor=SYSTEM)


async def test_rename_and_recolor_and_rename_conflict() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    await tags.create_tag(name="feature", color="#00ff00", actor=SYSTEM)
    renamed = await tags.update_tag(tag_id=bug.id, name="defect", color="#0000FF", actor=SYSTEM)
    assert (renamed.name, renamed.color) == ("defect", "#0000ff")
    with pytest.raises(Conflict):
        await tags.update_tag(tag_id=bug.id, name="FEATURE", actor=SYSTEM)
    with pytest.raises(NotFound):
        await tags.update_tag(tag_id="00000000-0000-7000-8000-000000000000", name="x", actor=SYSTEM)


async def test_delete_cascades_to_task_links_but_keeps_tasks() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    task = await tasks.create_task(title="t", tag_ids=[bug.id], actor=SYSTEM)
    assert await tags.delete_tag(tag_id=bug.id, actor=SYSTEM) is True
    assert await tags.delete_tag(tag_id=bug.id, actor=SYSTEM) is False
    assert await sql.fetchval("SELECT count(*) FROM task_tags") == 0
    assert await tasks.get_task(task_id=task.id) is not None


async def test_database_enforces_color_and_case_insensitive_uniqueness() -> None:
    # The hand-written constraints of the migration hold even for writes that bypass the service.
    import asyncpg

    await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'x', '#000000')")
    with pytest.raises(asyncpg.UniqueViolationError):
        await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'X', '#000000')")
    with pytest.raises(asyncpg.CheckViolationError):
        await sql.execute("INSERT INTO tags (id, name, color) VALUES (gen_random_uuid(), 'y', 'blue')")


async def test_tags_of_many_tasks_in_key_order_by_name_in_one_statement_whatever_the_count() -> None:
    beta = await tags.create_tag(name="Beta", color="#000001", actor=SYSTEM)
    alpha = await tags.create_tag(name="alpha", color="#000002", actor=SYSTEM)
    both = await tasks.create_task(title="both", tag_ids=[beta.id, alpha.id], actor=SYSTEM)
    one = await tasks.create_task(title="one", tag_ids=[beta.id], actor=SYSTEM)
    bare = await tasks.create_task(title="bare", actor=SYSTEM)
    many = [(await tasks.create_task(title=f"t{i}", tag_ids=[alpha.id], actor=SYSTEM)).id for i in range(120)]

    keys = [one.id, "not-an-id", both.id, "00000000-0000-7000-8000-000000000000", bare.id, one.id]
    with record_statements() as few:
        found = await tags.tags_by_task_ids(task_ids=keys)
    with record_statements() as lots:
        found_many = await tags.tags_by_task_ids(task_ids=many)

    assert [[tag.name for tag in entry] for entry in found] == [["Beta"], [], ["alpha", "Beta"], [], [], ["Beta"]]
    assert found_many == [[alpha]] * 120
    # One statement each, and the same one: its shape does not depend on how many tasks are asked for.
    assert few.statements == lots.statements and len(few.statements) == 1


async def test_tags_by_ids_in_key_order_with_none_for_unknown_or_malformed() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    feature = await tags.create_tag(name="feature", color="#00ff00", actor=SYSTEM)
    found = await tags.get_tags_by_ids(ids=[feature.id, "nope", bug.id, "00000000-0000-7000-8000-000000000000"])
    assert found == [feature, None, bug, None]
    assert await tags.get_tags_by_ids(ids=["nope"]) == [None]


async def test_a_rename_changes_nothing_else_and_a_conflicting_one_rolls_back() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    await tags.create_tag(name="feature", color="#00ff00", actor=SYSTEM)
    unchanged = await tags.update_tag(tag_id=bug.id, name="bug", color="#FF0000", actor=SYSTEM)
    assert unchanged == bug
    with pytest.raises(Conflict):
        await tags.update_tag(tag_id=bug.id, name="Feature", color="#0000ff", actor=SYSTEM)
    assert await tags.get_tags_by_ids(ids=[bug.id]) == [bug]
