"""Task lists: every filter, whitelisted sorts, offset pages and keyset cursors (ties, inserts while paging)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.auth.principal import SYSTEM
from app.common.errors import ValidationFailed
from app.common.pagination import CursorPage, OffsetPage
from app.stores import sql
from app.stores.query_log import record_statements
from app.tags import service as tags
from app.tasks import service as tasks
from app.tasks.models import Priority, TaskStatus
from app.tasks.queries import SortField, TaskFilters, TaskSort
from app.users.documents import User

NEWEST = TaskSort(SortField.CREATED_AT, descending=True)


async def titles(filters: TaskFilters = TaskFilters(), sort: TaskSort = NEWEST, page=None) -> list[str]:
    result = await tasks.find_tasks(filters=filters, sort=sort, page=page or OffsetPage(1, 100))
    return [t.title for t in result.items]


async def test_filters_by_status_priority_and_assignee() -> None:
    ada = await User(email="ada@example.com").insert()
    bob = await User(email="bob@example.com").insert()
    await tasks.create_task(
        title="a", status=TaskStatus.TODO, priority=Priority.LOW, assignee_id=str(ada.id), actor=SYSTEM,
    )
    await tasks.create_task(
        title="b", status=TaskStatus.IN_PROGRESS, priority=Priority.HIGH, assignee_id=str(bob.id), actor=SYSTEM,
    )
    await tasks.create_task(title="c", status=TaskStatus.COMPLETED, priority=Priority.HIGH, actor=SYSTEM)

    assert sorted(await titles(TaskFilters(statuses=(TaskStatus.TODO, TaskStatus.COMPLETED)))) == ["a", "c"]
    assert sorted(await titles(TaskFilters(priorities=(Priority.HIGH,)))) == ["b", "c"]
    assert await titles(TaskFilters(assignee_ids=(str(ada.id),))) == ["a"]
    assert await titles(TaskFilters(unassigned=True)) == ["c"]
    assert sorted(await titles(TaskFilters(assignee_ids=(str(bob.id),), unassigned=True))) == ["b", "c"]
    assert await titles(TaskFilters(statuses=(TaskStatus.CANCELLED,))) == []


async def test_due_date_and_created_ranges() -> None:
    base = datetime(2030, 6, 1, tzinfo=UTC)
    for offset in range(5):
        await tasks.create_task(title=f"d{offset}", due_date=base + timedelta(days=offset), actor=SYSTEM)
    await tasks.create_task(title="no-due", actor=SYSTEM)
    found = await titles(TaskFilters(due_after=base + timedelta(days=1), due_before=base + timedelta(days=3)))
    assert sorted(found) == ["d1", "d2"]
    assert len(await titles(TaskFilters(created_after=datetime.now(UTC) - timedelta(minutes=5)))) == 6
    assert await titles(TaskFilters(created_before=datetime(2000, 1, 1, tzinfo=UTC))) == []


async def test_search_is_case_insensitive_over_title_and_description_and_wildcards_are_literal() -> None:
    await tasks.create_task(title="Ship 100% of features", actor=SYSTEM)
    await tasks.create_task(title="Ship 100 features", actor=SYSTEM)
    await tasks.create_task(title="snake_case rename", actor=SYSTEM)
    await tasks.create_task(title="snakeXcase rename", actor=SYSTEM)
    await tasks.create_task(title="other", description="mentions a back\\slash", actor=SYSTEM)
    await tasks.create_task(title="other2", description="FIND me in the description", actor=SYSTEM)

    assert await titles(TaskFilters(search="100%")) == ["Ship 100% of features"]
    assert await titles(TaskFilters(search="snake_case")) == ["snake_case rename"]
    assert await titles(TaskFilters(search="back\\slash")) == ["other"]
    assert await titles(TaskFilters(search="find ME")) == ["other2"]
    assert await titles(TaskFilters(search="%")) == ["Ship 100% of features"]
    assert await titles(TaskFilters(search="'; DROP TABLE tasks; --")) == []
    assert await sql.fetchval("SELECT count(*) FROM tasks") == 6


async def test_tag_filters_any_and_all_by_name_case_insensitively() -> None:
    bug = await tags.create_tag(name="bug", color="#ff0000", actor=SYSTEM)
    ui = await tags.create_tag(name="UI", color="#00ff00", actor=SYSTEM)
    await tasks.create_task(title="both", tag_ids=[bug.id, ui.id], actor=SYSTEM)
    await tasks.create_task(title="bug-only", tag_ids=[bug.id], actor=SYSTEM)
    await tasks.create_task(title="none", actor=SYSTEM)

    assert sorted(await titles(TaskFilters(tags_any=("BUG", "ui")))) == ["both", "bug-only"]
    assert await titles(TaskFilters(tags_all=("bug", "ui"))) == ["both"]
    assert await titles(TaskFilters(tags_all=("bug", "missing"))) == []
    assert await titles(TaskFilters(tags_any=("ui",), tags_all=("bug",))) == ["both"]


async def test_soft_deleted_are_hidden_unless_asked_for() -> None:
    await tasks.create_task(title="live", actor=SYSTEM)
    gone = await tasks.create_task(title="gone", actor=SYSTEM)
    await tasks.soft_delete_task(task_id=gone.id, actor=SYSTEM)
    assert await titles() == ["live"]
    assert sorted(await titles(TaskFilters(include_deleted=True))) == ["gone", "live"]
    assert await titles(TaskFilters(only_deleted=True)) == ["gone"]


async def test_priority_sorts_by_rank_and_due_date_puts_nulls_last() -> None:
    await tasks.create_task(title="low", priority=Priority.LOW, due_date=datetime(2030, 1, 3, tzinfo=UTC), actor=SYSTEM)
    await tasks.create_task(title="high", priority=Priority.HIGH, actor=SYSTEM)
    await tasks.create_task(
        title="medium", priority=Priority.MEDIUM, due_date=datetime(2030, 1, 1, tzinfo=UTC), actor=SYSTEM,
    )

    assert await titles(sort=TaskSort(SortField.PRIORITY, descending=True)) == ["high", "medium", "low"]
    assert await titles(sort=TaskSort(SortField.PRIORITY, descending=False)) == ["low", "medium", "high"]
    assert await titles(sort=TaskSort(SortField.DUE_DATE, descending=False)) == ["medium", "low", "high"]
    assert await titles(sort=TaskSort(SortField.DUE_DATE, descending=True)) == ["low", "medium", "high"]
    assert await titles(sort=TaskSort(SortField.TITLE, descending=False)) == ["high", "low", "medium"]


async def insert_ties(n: int, *, due_every: int = 3) -> None:
    """n tasks sharing one created_at, priority and (mostly) due date: the sort key alone cannot order them."""
    await sql.execute(
        "INSERT INTO tasks (id, title, priority, due_date, created_at) "
        "SELECT gen_random_uuid(), 'tie ' || i, 2, "
        "CASE WHEN i % $2 = 0 THEN NULL ELSE '2030-01-01'::timestamptz END, '2030-01-01'::timestamptz "
        "FROM generate_series(1, $1) AS i",
        n, due_every,
    )


async def walk_forward(sort: TaskSort, size: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = await tasks.find_tasks(filters=TaskFilters(), sort=sort, page=CursorPage(first=size, after=after))
        seen.extend(t.id for t in page.items)
        assert len(page.items) <= size
        if not page.has_next_page:
            return seen
        after = page.cursors[-1]


async def walk_backward(sort: TaskSort, size: int) -> list[str]:
    seen: list[str] = []
    before = None
    while True:
        page = await tasks.find_tasks(filters=TaskFilters(), sort=sort, page=CursorPage(last=size, before=before))
        seen[:0] = [t.id for t in page.items]
        if not page.has_previous_page:
            return seen
        before = page.cursors[0]


@pytest.mark.parametrize("field", list(SortField))
@pytest.mark.parametrize("descending", [True, False])
async def test_cursor_pages_over_ties_never_skip_or_repeat(field: SortField, descending: bool) -> None:
    await insert_ties(47)
    sort = TaskSort(field, descending)
    everything = [t.id for t in (await tasks.find_tasks(filters=TaskFilters(), sort=sort, page=OffsetPage(1, 100))).items]

    forward = await walk_forward(sort, 5)
    backward = await walk_backward(sort, 7)

    assert len(everything) == 47
    assert forward == everything
    assert backward == everything


async def test_rows_inserted_while_paging_do_not_shift_the_pages() -> None:
    await insert_ties(20)
    sort = TaskSort(SortField.CREATED_AT, descending=True)
    before_ids = {t.id for t in (await tasks.find_tasks(filters=TaskFilters(), sort=sort, page=OffsetPage(1, 100))).items}

    first = await tasks.find_tasks(filters=TaskFilters(), sort=sort, page=CursorPage(first=8))
    await insert_ties(10)  # same sort value as the rows being paged
    await tasks.create_task(title="brand new", actor=SYSTEM)  # sorts before the first page
    seen = [t.id for t in first.items]
    after = first.cursors[-1]
    while after:
        page = await tasks.find_tasks(filters=TaskFilters(), sort=sort, page=CursorPage(first=8, after=after))
        seen.extend(t.id for t in page.items)
        after = page.cursors[-1] if page.has_next_page else None

    assert len(seen) == len(set(seen))
    assert before_ids <= set(seen)


async def test_offset_pages_and_total_only_when_asked() -> None:
    await insert_ties(25)
    with record_statements() as without_total:
        page3 = await tasks.find_tasks(filters=TaskFilters(), sort=NEWEST, page=OffsetPage(3, 10))
    assert page3.total_count is None
    assert len(page3.items) == 5 and not page3.has_next_page and page3.has_previous_page
    with record_statements() as with_total:
        page1 = await tasks.find_tasks(filters=TaskFilters(), sort=NEWEST, page=OffsetPage(1, 10), with_total=True)
    assert page1.total_count == 25 and page1.has_next_page and not page1.has_previous_page
    assert without_total.count == 1
    assert with_total.count == 2


@pytest.mark.parametrize(
    "page",
    [OffsetPage(0, 10), OffsetPage(1, 101), OffsetPage(1, 0), CursorPage(first=101), CursorPage(first=-1),
     CursorPage(first=2, last=2), CursorPage(after="garbage"), CursorPage(after="WyJ0aXRsZTphc2MiLCJ4IiwiMSJd")],
)
async def test_bad_page_arguments_are_validation_errors(page) -> None:
    with pytest.raises(ValidationFailed):
        await tasks.find_tasks(filters=TaskFilters(), sort=NEWEST, page=page)


async def test_cursor_from_another_sort_is_rejected() -> None:
    await insert_ties(3)
    page = await tasks.find_tasks(filters=TaskFilters(), sort=NEWEST, page=CursorPage(first=1))
    with pytest.raises(ValidationFailed):
        await tasks.find_tasks(
            filters=TaskFilters(), sort=TaskSort(SortField.TITLE, False), page=CursorPage(first=1, after=page.cursors[0])
        )


async def test_batched_lookups_keep_key_order() -> None:
    a = await tasks.create_task(title="a", actor=SYSTEM)
    b = await tasks.create_task(title="b", actor=SYSTEM)
    with record_statements() as statements:
        found = await tasks.get_tasks_by_ids(ids=[b.id, "missing", a.id])
    assert [t.title if t else None for t in found] == ["b", None, "a"]
    assert statements.count == 1
