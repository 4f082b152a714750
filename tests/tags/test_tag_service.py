"""Tags: unique names (case-insensitively), validated colors, counts, cascading delete."""

from __future__ import annotations

import pytest

from app.auth.principal import SYSTEM
from app.common.errors import Conflict, NotFound, ValidationFailed
from app.stores import sql
from app.tags import service as tags
from app.tasks import service as tasks


async def test_create_normalises_and_lists_with_live_task_counts() -> None:
    bug = await tags.create_tag(name="  bug ", color="#FF0000", actor=SYSTEM)
    feature = await tags.create_tag(name="Feature", color="#00ff00", actor=SYSTEM)
    assert (bug.name, bug.color) == ("bug", "#ff0000")

    await tasks.create_task(title="a", tag_ids=[bug.id], actor=SYSTEM)
    gone = await tasks.create_task(title="b", tag_ids=[bug.id, feature.id], actor=SYSTEM)
    await tasks.soft_delete_task(task_id=gone.id, actor=SYSTEM)

    listed = {entry.tag.name: entry.task_count for entry in await tags.list_tags()}
    assert listed == {"bug": 1, "Feature": 0}


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
