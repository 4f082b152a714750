"""Task queries are Tortoise QuerySets compiled once per shape: values bind to the compiled SQL, never enter it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.auth.principal import SYSTEM
from app.common.pagination import CursorPage, OffsetPage
from app.stores import sql
from app.stores.query_log import record_statements
from app.stores.sql import Param, compile_query
from app.tasks import service as tasks
from app.tasks.models import Task, TaskStatus
from app.tasks.queries import SortField, TaskFilters, TaskSort, count_query, page_query

NEWEST = TaskSort()


def test_a_shape_is_compiled_once_whatever_its_values() -> None:
    todo = page_query(TaskFilters(statuses=(TaskStatus.TODO,), search="50% off"), NEWEST, CursorPage(first=5))
    done = page_query(TaskFilters(statuses=(TaskStatus.COMPLETED,), search="x_y"), NEWEST, CursorPage(first=50))

    assert todo.statement is done.statement
    assert (todo.values["status"], todo.values["search"], todo.values["limit"]) == ("TODO", "%50\\% off%", 6)
    assert (done.values["status"], done.values["search"], done.values["limit"]) == ("COMPLETED", "%x\\_y%", 51)
    assert "off" not in todo.statement.sql and "TODO" not in todo.statement.sql
    assert "ILIKE" in todo.statement.sql and "ESCAPE" in todo.statement.sql  # what the trigram indexes serve


def test_what_changes_the_sql_is_a_different_shape() -> None:
    base = page_query(TaskFilters(), NEWEST, CursorPage(first=5)).statement
    variants = [
        page_query(TaskFilters(statuses=(TaskStatus.TODO, TaskStatus.COMPLETED)), NEWEST, CursorPage(first=5)),
        page_query(TaskFilters(unassigned=True), NEWEST, CursorPage(first=5)),
        page_query(TaskFilters(include_deleted=True), NEWEST, CursorPage(first=5)),
        page_query(TaskFilters(), TaskSort(SortField.TITLE, False), CursorPage(first=5)),
        page_query(TaskFilters(), NEWEST, CursorPage(last=5)),
        page_query(TaskFilters(), NEWEST, OffsetPage(2, 5)),
    ]
    statements = {id(base)} | {id(v.statement) for v in variants}
    assert len(statements) == len(variants) + 1
    assert count_query(TaskFilters())[0].sql.startswith("SELECT COUNT(*)")


async def test_a_cursor_whose_row_has_no_due_date_takes_the_null_branch() -> None:
    for i in range(4):
        await tasks.create_task(title=f"t{i}", due_date=datetime(2030, 1, 1, tzinfo=UTC) if i % 2 else None,
                                actor=SYSTEM)
    by_due = TaskSort(SortField.DUE_DATE, descending=True)
    page = await tasks.find_tasks(filters=TaskFilters(), sort=by_due, page=CursorPage(first=3))
    dated, undated = page.cursors[0], page.cursors[2]  # NULLs sort last
    after_dated = page_query(TaskFilters(), by_due, CursorPage(first=1, after=dated))
    after_undated = page_query(TaskFilters(), by_due, CursorPage(first=1, after=undated))

    assert after_dated.statement is not after_undated.statement
    assert "after_value" not in after_undated.values
    rest = await tasks.find_tasks(filters=TaskFilters(), sort=by_due, page=CursorPage(first=3, after=undated))
    assert [t.due_date for t in rest.items] == [None]


async def test_a_page_with_cursor_and_filters_is_one_statement() -> None:
    for i in range(3):
        await tasks.create_task(title=f"t{i}", actor=SYSTEM)
    first = await tasks.find_tasks(filters=TaskFilters(search="t"), sort=NEWEST, page=CursorPage(first=1))
    with record_statements() as statements:
        page = await tasks.find_tasks(
            filters=TaskFilters(search="t"), sort=NEWEST, page=CursorPage(first=5, after=first.cursors[0])
        )
    assert [t.title for t in page.items] == ["t1", "t0"]
    assert statements.count == 1


def test_a_literal_value_cannot_be_frozen_into_a_compiled_query() -> None:
    with pytest.raises(ValueError, match="literal value"):
        compile_query(Task.filter(title="fixed").values("id"))
    assert compile_query(Task.filter(title=Param("title")).values("id")).names == ("title",)


async def test_a_compiled_statement_runs_inside_the_callers_transaction() -> None:
    task = await tasks.create_task(title="before", actor=SYSTEM)
    with pytest.raises(RuntimeError):
        async with sql.transaction():
            await Task.filter(title="before").update(title="inside")
            # The compiled read sees the transaction's own uncommitted write.
            assert (await tasks.get_task(task_id=task.id)).title == "inside"
            raise RuntimeError("roll back")
    assert (await tasks.get_task(task_id=task.id)).title == "before"
