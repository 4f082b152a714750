"""Audit rows: written on the caller's connection (commit and roll back with the write), read back
filtered and paged newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.audit.service import AuditFilters, find_audit_entries
from app.audit.writer import Action, AuditItem, created, diff, record, record_many, removed
from app.auth.principal import Principal, Role, system
from app.common.errors import ValidationFailed
from app.http import request_ids
from app.stores import sql
from app.stores.query_log import record_statements

ADMIN = Principal(user_id="d" * 24, role=Role.ADMIN)
MEMBER = Principal(user_id="a" * 24, role=Role.MEMBER)


async def rows() -> list:
    return (await find_audit_entries(first=100)).items


async def test_a_row_commits_with_the_write_it_describes() -> None:
    async with sql.transaction() as conn:
        await record(
            conn,
            actor=MEMBER,
            action=Action.UPDATE,
            entity="task",
            entity_id="t1",
            changes=diff({"title": "old", "status": "TODO"}, {"title": "new", "status": "TODO"}),
        )
    [row] = await rows()
    assert (row.actor_id, row.actor_role, row.action, row.entity, row.entity_id) == (
        "a" * 24, "member", "update", "task", "t1"
    )
    assert row.changes == {"title": {"old": "old", "new": "new"}}
    assert abs(row.at - datetime.now(UTC)) < timedelta(seconds=10)


async def test_a_rolled_back_write_leaves_no_row() -> None:
    with pytest.raises(RuntimeError):
        async with sql.transaction() as conn:
            await record(conn, actor=ADMIN, action=Action.CREATE, entity="tag", entity_id="g1", changes={})
            raise RuntimeError("the write failed after the audit row")
    assert await rows() == []


async def test_bulk_rows_go_in_one_statement() -> None:
    items = [AuditItem(Action.BULK_CREATE, "task", f"t{i}", created({"title": f"task {i}"})) for i in range(250)]
    with record_statements() as recorded:
        async with sql.transaction() as conn:
            await record_many(conn, actor=ADMIN, items=items)
    assert sum("audit_log" in s for s in recorded.statements) == 1
    page = await find_audit_entries(first=100, with_total=True)
    assert page.total_count == 250


async def test_values_of_any_json_type_are_kept() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    changes = {"due_date": {"old": None, "new": when}, "settings": {"old": {"$gt": ""}, "new": [1, "two", None]}}
    async with sql.transaction() as conn:
        await record(conn, actor=system("data-migrate"), action=Action.DATA_MIGRATION, entity="user", entity_id=None,
                     changes=changes)
    [row] = await rows()
    assert row.actor_id == "system:data-migrate" and row.actor_role == "admin"
    assert row.changes == {
        "due_date": {"old": None, "new": when.isoformat()},
        "settings": {"old": {"$gt": ""}, "new": [1, "two", None]},
    }


async def test_the_current_request_id_is_recorded() -> None:
    token = request_ids.bind("req-123")
    try:
        async with sql.transaction() as conn:
            await record(conn, actor=ADMIN, action=Action.DELETE, entity="user", entity_id="u1",
                         changes=removed({"email": "x@example.com"}))
    finally:
        request_ids.unbind(token)
    [row] = await rows()
    assert row.request_id == "req-123"
    assert row.changes == {"email": {"old": "x@example.com", "new": None}}


async def _seed_log() -> None:
    items = [AuditItem(Action.CREATE, "task", f"t{i}") for i in range(5)]
    items += [AuditItem(Action.UPDATE, "tag", "g1"), AuditItem(Action.DELETE, "tag", "g1")]
    async with sql.transaction() as conn:
        await record_many(conn, actor=ADMIN, items=items[:5])
    async with sql.transaction() as conn:
        await record_many(conn, actor=MEMBER, items=items[5:])


async def test_filters_narrow_the_log() -> None:
    await _seed_log()
    by_entity = await find_audit_entries(filters=AuditFilters(entity="tag", entity_id="g1"), first=10)
    assert [r.action for r in by_entity.items] == ["delete", "update"]  # newest first
    by_actor = await find_audit_entries(filters=AuditFilters(actor_id="a" * 24, actions=("delete",)), first=10)
    assert [r.action for r in by_actor.items] == ["delete"]
    future = await find_audit_entries(filters=AuditFilters(since=datetime.now(UTC) + timedelta(hours=1)), first=10)
    assert future.items == []
    everything_before_now = await find_audit_entries(filters=AuditFilters(until=datetime.now(UTC) + timedelta(hours=1)))
    assert len(everything_before_now.items) == 7


async def test_pages_cover_the_log_once_newest_first() -> None:
    await _seed_log()
    seen, after = [], None
    while True:
        page = await find_audit_entries(first=3, after=after)
        seen += [r.id for r in page.items]
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    assert len(seen) == len(set(seen)) == 7
    assert seen == [r.id for r in (await find_audit_entries(first=10)).items]


@pytest.mark.parametrize(
    "filters",
    [AuditFilters(entity="task' OR '1'='1"), AuditFilters(actor_id="%"), AuditFilters(actions=("create); DROP TABLE audit_log; --",))],
)
async def test_filter_values_are_data(filters: AuditFilters) -> None:
    await _seed_log()
    assert (await find_audit_entries(filters=filters, first=10)).items == []
    assert len(await rows()) == 7


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"first": 101}, "first"),
        ({"after": "not-a-cursor"}, "after"),
        ({"filters": AuditFilters(entity="x" * 65)}, "filter.entity"),
        ({"filters": AuditFilters(actions=("a",) * 21)}, "filter.actions"),
    ],
)
async def test_bad_arguments_are_validation_errors(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        await find_audit_entries(**kwargs)
    assert field in [e.field for e in error.value.errors]


def test_diff_lists_only_changed_fields() -> None:
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == {"b": {"old": 2, "new": 3}}
    assert diff({"a": 1}, {"a": 2, "b": 5}, fields=["a"]) == {"a": {"old": 1, "new": 2}}
    assert created({"a": 1}) == {"a": {"old": None, "new": 1}}
