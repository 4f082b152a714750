"""SQL for task lists: filters, whitelisted sorts, offset pages and keyset cursors.

Every value travels as a bind parameter; only fixed fragments from this module become SQL text, so
filters, search strings, sort keys and cursors can never change a statement's structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from app.common.errors import FieldError, ValidationFailed
from app.common.pagination import CursorPage, OffsetPage, decode_cursor, encode_cursor
from app.tasks.models import Priority, TaskStatus

COLUMNS = (
    "t.id, t.title, t.description, t.status, t.priority, t.due_date, t.assignee_id, t.created_at, t.updated_at, "
    "t.deleted_at, t.creator_id"
)


@dataclass(frozen=True)
class TaskFilters:
    """What a task list is narrowed to; empty means no narrowing."""

    statuses: tuple[TaskStatus, ...] = ()
    priorities: tuple[Priority, ...] = ()
    assignee_ids: tuple[str, ...] = ()
    unassigned: bool = False
    due_after: datetime | None = None
    due_before: datetime | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    search: str | None = None
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    include_deleted: bool = False
    only_deleted: bool = False


class SortField(str, Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    DUE_DATE = "due_date"
    PRIORITY = "priority"
    TITLE = "title"


_NULLABLE = {SortField.DUE_DATE}
_TIMESTAMPS = {SortField.CREATED_AT, SortField.UPDATED_AT, SortField.DUE_DATE}


@dataclass(frozen=True)
class TaskSort:
    field: SortField = SortField.CREATED_AT
    descending: bool = True

    @property
    def key(self) -> str:
        """Names the sort inside cursors, so a cursor cannot be replayed against another order."""
        return f"{self.field.value}:{'desc' if self.descending else 'asc'}"


@dataclass
class Params:
    """Collects bind values and hands out their $n placeholders."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def escape_like(text: str) -> str:
    """`text` with LIKE's wildcards made literal (backslash is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_clause(filters: TaskFilters, params: Params) -> str:
    """The WHERE condition (alias `t`) for the filters."""
    conditions: list[str] = []
    if filters.only_deleted:
        conditions.append("t.deleted_at IS NOT NULL")
    elif not filters.include_deleted:
        conditions.append("t.deleted_at IS NULL")
    if len(filters.statuses) == 1:
        # Equality (not ANY) lets the planner walk idx_tasks_live_status_created in sort order.
        conditions.append(f"t.status = {params.add(filters.statuses[0].value)}")
    elif filters.statuses:
        conditions.append(f"t.status = ANY({params.add([s.value for s in filters.statuses])}::text[])")
    if filters.priorities:
        conditions.append(f"t.priority = ANY({params.add([int(p) for p in filters.priorities])}::smallint[])")
    assignee: list[str] = []
    if filters.assignee_ids:
        assignee.append(f"t.assignee_id = ANY({params.add(list(filters.assignee_ids))}::text[])")
    if filters.unassigned:
        assignee.append("t.assignee_id IS NULL")
    if assignee:
        conditions.append("(" + " OR ".join(assignee) + ")")
    for column, op, value in (
        ("due_date", ">=", filters.due_after),
        ("due_date", "<", filters.due_before),
        ("created_at", ">=", filters.created_after),
        ("created_at", "<", filters.created_before),
    ):
        if value is not None:
            conditions.append(f"t.{column} {op} {params.add(value)}")
    if filters.search:
        pattern = params.add(f"%{escape_like(filters.search)}%")
        conditions.append(f"(t.title ILIKE {pattern} ESCAPE '\\' OR t.description ILIKE {pattern} ESCAPE '\\')")
    if filters.tags_any:
        names = params.add(sorted({n.lower() for n in filters.tags_any}))
        conditions.append(
            "EXISTS (SELECT 1 FROM task_tags tt JOIN tags g ON g.id = tt.tag_id "
            f"WHERE tt.task_id = t.id AND lower(g.name) = ANY({names}::text[]))"
        )
    if filters.tags_all:
        wanted = sorted({n.lower() for n in filters.tags_all})
        names = params.add(wanted)
        conditions.append(
            "(SELECT count(DISTINCT lower(g.name)) FROM task_tags tt JOIN tags g ON g.id = tt.tag_id "
            f"WHERE tt.task_id = t.id AND lower(g.name) = ANY({names}::text[])) = {params.add(len(wanted))}"
        )
    return " AND ".join(conditions) if conditions else "TRUE"


def order_by(sort: TaskSort, *, reverse: bool = False) -> str:
    """ORDER BY for the sort (NULLs last in the logical order), with id as the unique tiebreaker."""
    descending = sort.descending != reverse
    direction = "DESC" if descending else "ASC"
    nulls = ""
    if sort.field in _NULLABLE:
        nulls = " NULLS FIRST" if reverse else " NULLS LAST"
    return f"t.{sort.field.value} {direction}{nulls}, t.id {direction}"


def cursor_for(sort: TaskSort, record: Any) -> str:
    """The opaque cursor of a row under the sort."""
    value = record[sort.field.value]
    if isinstance(value, datetime):
        value = value.isoformat()
    return encode_cursor([sort.key, value, str(record["id"])])


def _decode(sort: TaskSort, cursor: str, field_name: str) -> tuple[Any, UUID]:
    values = decode_cursor(cursor, field_name=field_name, expected=sort.key)
    try:
        raw_value, raw_id = values
        row_id = UUID(raw_id)
        if raw_value is None:
            if sort.field not in _NULLABLE:
                raise ValueError
            return None, row_id
        if sort.field in _TIMESTAMPS:
            return datetime.fromisoformat(raw_value), row_id
        if sort.field is SortField.PRIORITY:
            return int(raw_value), row_id
        if not isinstance(raw_value, str):
            raise ValueError
        return raw_value, row_id
    except (ValueError, TypeError):
        raise ValidationFailed(FieldError(field_name, "invalid cursor")) from None


def keyset_condition(sort: TaskSort, cursor: str, field_name: str, params: Params, *, after: bool) -> str:
    """Rows strictly after (or before) the cursor's row in the sort's logical order."""
    value, row_id = _decode(sort, cursor, field_name)
    # Descending order: rows after have smaller keys; ascending: larger. "before" flips it.
    op = "<" if sort.descending == after else ">"
    column = f"t.{sort.field.value}"
    pid = params.add(row_id)
    if sort.field not in _NULLABLE:
        return f"({column}, t.id) {op} ({params.add(value)}, {pid})"
    # NULLs sort after every value in the logical order.
    if value is None:
        if after:
            return f"({column} IS NULL AND t.id {op} {pid})"
        return f"({column} IS NOT NULL OR t.id {op} {pid})"
    pv = params.add(value)
    if after:
        return f"(({column}, t.id) {op} ({pv}, {pid}) OR {column} IS NULL)"
    return f"({column} IS NOT NULL AND ({column}, t.id) {op} ({pv}, {pid}))"


@dataclass(frozen=True)
class PageQuery:
    sql: str
    values: list[Any]
    limit: int
    backward: bool


def page_query(filters: TaskFilters, sort: TaskSort, page: OffsetPage | CursorPage) -> PageQuery:
    """The SELECT for one page; it fetches one extra row to learn whether more exist."""
    params = Params()
    where = where_clause(filters, params)
    if isinstance(page, OffsetPage):
        limit = page.limit
        sql_text = (
            f"SELECT {COLUMNS} FROM tasks t WHERE {where} ORDER BY {order_by(sort)} "
            f"LIMIT {params.add(limit + 1)} OFFSET {params.add((page.page - 1) * limit)}"
        )
        return PageQuery(sql_text, params.values, limit, backward=False)
    backward = page.last is not None or (page.before is not None and page.first is None)
    if backward:
        limit = page.last if page.last is not None else 20
        if page.before:
            where += " AND " + keyset_condition(sort, page.before, "before", params, after=False)
        if page.after:
            where += " AND " + keyset_condition(sort, page.after, "after", params, after=True)
    else:
        limit = page.first if page.first is not None else 20
        if page.after:
            where += " AND " + keyset_condition(sort, page.after, "after", params, after=True)
        if page.before:
            where += " AND " + keyset_condition(sort, page.before, "before", params, after=False)
    sql_text = (
        f"SELECT {COLUMNS} FROM tasks t WHERE {where} ORDER BY {order_by(sort, reverse=backward)} "
        f"LIMIT {params.add(limit + 1)}"
    )
    return PageQuery(sql_text, params.values, limit, backward=backward)


def count_query(filters: TaskFilters) -> tuple[str, list[Any]]:
    """SELECT count(*) for the filters (cursors do not narrow totalCount)."""
    params = Params()
    return f"SELECT count(*) FROM tasks t WHERE {where_clause(filters, params)}", params.values
