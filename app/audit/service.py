"""Reading the audit log: filtered, newest first, keyset pages (admins only: resolvers check)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.audit.models import AuditEntry
from app.common.errors import FieldError, ValidationFailed
from app.common.pagination import DEFAULT_PAGE_SIZE, CursorPage, PageResult, decode_cursor, encode_cursor, validate_page
from app.common.timestamps import as_utc
from app.stores import sql

_CURSOR_KEY = "audit:at:desc"
_TEXT_MAX = 64
_COLUMNS = ("id", "at", "actor_id", "actor_role", "action", "entity", "entity_id", "changes", "request_id")
_ACTIONS_MAX = 20


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


def _row(values: dict[str, Any]) -> AuditRow:
    return AuditRow(**{**values, "id": str(values["id"])})


def _check_text(errors: list[FieldError], field: str, value: str | None) -> None:
    if value is not None and (len(value) > _TEXT_MAX or "\x00" in value):
        errors.append(FieldError(field, f"must be at most {_TEXT_MAX} characters without NUL"))


def _validate(filters: AuditFilters) -> None:
    errors: list[FieldError] = []
    for name in ("actor_id", "entity", "entity_id"):
        _check_text(errors, f"filter.{name}", getattr(filters, name))
    for index, action in enumerate(filters.actions):
        _check_text(errors, f"filter.actions.{index}", action)
    if len(filters.actions) > _ACTIONS_MAX:
        errors.append(FieldError("filter.actions", f"at most {_ACTIONS_MAX} values"))
    if errors:
        raise ValidationFailed(errors)


def _fits(name: str, value: str) -> bool:
    # Tortoise validates a filter value like a value to store: one longer than its column would raise.
    return len(value) <= AuditEntry._meta.fields_map[name].max_length  # type: ignore[attr-defined]


def _matching(filters: AuditFilters) -> QuerySet[AuditEntry]:
    _validate(filters)
    named = {name: getattr(filters, name) for name in ("actor_id", "entity", "entity_id")}
    equal = {name: value for name, value in named.items() if value is not None}
    actions = [action for action in filters.actions if _fits("action", action)]
    if not all(_fits(name, value) for name, value in equal.items()) or (filters.actions and not actions):
        return AuditEntry.filter(id__in=[])  # a value longer than its column matches no row
    query = AuditEntry.filter(**equal)
    if actions:
        query = query.filter(action__in=actions)
    if filters.since is not None:
        query = query.filter(at__gte=as_utc(filters.since))
    if filters.until is not None:
        query = query.filter(at__lt=as_utc(filters.until))
    return query


def _before(at: datetime, row_id: UUID) -> Q:
    # (at, id) < (cursor at, cursor id); the plain `at <=` gives the index scan its bound.
    return Q(at__lte=at) & (Q(at__lt=at) | Q(id__lt=row_id))


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
    query = _matching(filters)
    position = _decode(after) if after is not None else None
    # QuerySets read through sql.read: on a replica during a query operation when one may answer it.
    total = await sql.read(lambda db: query.using_db(db).count()) if with_total else None
    if position is not None:
        query = query.filter(_before(*position))
    page = query.order_by("-at", "-id").limit(size + 1)
    found = await sql.read(lambda db: page.using_db(db).values(*_COLUMNS))
    rows = [_row(values) for values in found[:size]]
    return PageResult(
        items=rows,
        cursors=[encode_cursor([_CURSOR_KEY, row.at.isoformat(), row.id]) for row in rows],
        has_next_page=len(found) > size,
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
