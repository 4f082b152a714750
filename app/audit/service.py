"""Reading the audit log: filtered, newest first, keyset pages (admins only: resolvers check)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from app.common.errors import FieldError, ValidationFailed
from app.common.pagination import DEFAULT_PAGE_SIZE, CursorPage, PageResult, decode_cursor, encode_cursor, validate_page
from app.common.timestamps import as_utc
from app.stores import sql

_CURSOR_KEY = "audit:at:desc"
_TEXT_MAX = 64
_COLUMNS = "id, at, actor_id, actor_role, action, entity, entity_id, changes, request_id"


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: str
    at: datetime
    actor_id: str
    actor_role: str | None
    action: str
    entity: str
    entity_id: str | None
    changes: dict[str, Any]
    request_id: str | None


@dataclass(frozen=True)
class AuditFilters:
    """Every given condition must hold; `actions` matches any of its values."""

    actor_id: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


def _row(record: asyncpg.Record) -> AuditRow:
    changes = record["changes"]
    return AuditRow(
        id=str(record["id"]),
        at=record["at"],
        actor_id=record["actor_id"],
        actor_role=record["actor_role"],
        action=record["action"],
        entity=record["entity"],
        entity_id=record["entity_id"],
        changes=orjson.loads(changes) if isinstance(changes, (str, bytes)) else changes,
        request_id=record["request_id"],
    )


def _check_text(errors: list[FieldError], field: str, value: str | None) -> None:
    if value is not None and (len(value) > _TEXT_MAX or "\x00" in value):
        errors.append(FieldError(field, f"must be at most {_TEXT_MAX} characters without NUL"))


def _where(filters: AuditFilters, values: list[Any]) -> str:
    errors: list[FieldError] = []
    for name in ("actor_id", "entity", "entity_id"):
        _check_text(errors, f"filter.{name}", getattr(filters, name))
    for index, action in enumerate(filters.actions):
        _check_text(errors, f"filter.actions.{index}", action)
    if len(filters.actions) > 20:
        errors.append(FieldError("filter.actions", "at most 20 values"))
    if errors:
        raise ValidationFailed(errors)

    def bind(value: Any) -> str:
        values.append(value)
        return f"${len(values)}"

    conditions = []
    for column in ("actor_id", "entity", "entity_id"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"{column} = {bind(value)}")
    if filters.actions:
        conditions.append(f"action = ANY({bind(list(filters.actions))}::text[])")
    if filters.since is not None:
        conditions.append(f"at >= {bind(as_utc(filters.since))}")
    if filters.until is not None:
        conditions.append(f"at < {bind(as_utc(filters.until))}")
    return " AND ".join(conditions) or "TRUE"


async def find_audit_entries(
    *,
    filters: AuditFilters = AuditFilters(),
    first: int | None = None,
    after: str | None = None,
    with_total: bool = False,
) -> PageResult[AuditRow]:
    """One page of audit rows matching filters, newest first (ties by id), and the total when asked."""
    validate_page(CursorPage(first=first, after=after))
    size = DEFAULT_PAGE_SIZE if first is None else first
    values: list[Any] = []
    where = _where(filters, values)
    total = await sql.fetchval(f"SELECT count(*) FROM audit_log WHERE {where}", *values) if with_total else None
    if after is not None:
        at, row_id = _decode(after)
        values += [at, row_id]
        where += f" AND (at, id) < (${len(values) - 1}, ${len(values)})"
    values.append(size + 1)
    records = await sql.fetch(
        f"SELECT {_COLUMNS} FROM audit_log WHERE {where} ORDER BY at DESC, id DESC LIMIT ${len(values)}", *values
    )
    rows = [_row(r) for r in records[:size]]
    return PageResult(
        items=rows,
        cursors=[encode_cursor([_CURSOR_KEY, row.at.isoformat(), row.id]) for row in rows],
        has_next_page=len(records) > size,
        has_previous_page=after is not None,
        total_count=total,
    )


def _decode(cursor: str) -> tuple[datetime, UUID]:
    values = decode_cursor(cursor, field_name="after", expected=_CURSOR_KEY)
    try:
        raw_at, raw_id = values
        return datetime.fromisoformat(raw_at), UUID(raw_id)
    except (ValueError, TypeError, AttributeError):
        raise ValidationFailed(FieldError("after", "invalid cursor")) from None
