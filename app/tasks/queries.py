"""Task queries through Tortoise: lists (filters, whitelisted sorts, offset pages and keyset cursors), rows by
id, the tag links of `Task.tags`, and the bulk upsert.

Each list query is one QuerySet per *shape* (which filters are present, the sort and direction, which
cursors are given and whether a cursor's value is null), compiled by Tortoise once to parameterized SQL
(app.stores.sql.compile_query) and kept in a bounded cache; a request binds its values to it by name.
Values never reach the SQL text, so filters, search strings, sort keys and cursors cannot change a
statement's structure. The fixed-shape statements are compiled the same way, once each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID

from pypika_tortoise import Table
from pypika_tortoise.functions import Count, Lower
from pypika_tortoise.queries import QueryBuilder
from pypika_tortoise.terms import Field, ValueWrapper
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.common.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorPage,
    KeysetCursor,
    OffsetPage,
    int_key,
    str_key,
    timestamp_key,
)
from app.stores.sql import TRUE, AnyOf, ILike, IntParam, Param, Statement, Unnest, compile_query
from app.tags.public import Tag
from app.tasks.models import Priority, Task, TaskStatus

# What a task row is read as (TaskRow's fields), in every query that returns rows.
COLUMNS = (
    "id", "title", "description", "status", "priority", "due_date", "assignee_id", "created_at", "updated_at",
    "deleted_at", "creator_id",
)
# Distinct query shapes kept compiled; one that comes back after eviction costs a compilation (~0.3 ms CPU).
SHAPES_MAX = 512


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
_KEY_PARSERS = {
    SortField.CREATED_AT: timestamp_key,
    SortField.UPDATED_AT: timestamp_key,
    SortField.DUE_DATE: timestamp_key,
    SortField.PRIORITY: int_key,
    SortField.TITLE: str_key,
}


@dataclass(frozen=True)
class TaskSort:
    field: SortField = SortField.CREATED_AT
    descending: bool = True

    @property
    def key(self) -> str:
        """Names the sort inside cursors, so a cursor cannot be replayed against another order."""
        return f"{self.field.value}:{'desc' if self.descending else 'asc'}"

    @property
    def cursors(self) -> KeysetCursor[UUID]:
        """The cursor codec of this order."""
        return _codec(self)


@lru_cache(maxsize=None)  # one per sort: a handful
def _codec(sort: TaskSort) -> KeysetCursor[UUID]:
    return KeysetCursor(sort.key, _KEY_PARSERS[sort.field], UUID, nullable=sort.field in _NULLABLE)


def escape_like(text: str) -> str:
    """`text` with LIKE's wildcards made literal (backslash is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def cursors_for(sort: TaskSort, records: Sequence[Any]) -> list[str]:
    """The opaque cursor of each row (anything with `[field]` and `["id"]`) under the sort."""
    encode, field = sort.cursors.encode, sort.field.value
    return [encode(record[field], record["id"]) for record in records]


# ---------------------------------------------------------------- shapes and values


def _filter_values(filters: TaskFilters) -> dict[str, Any]:
    """The bind values of the filters by parameter name; which names are present is part of the shape."""
    values: dict[str, Any] = {}
    if len(filters.statuses) == 1:
        # Equality (not ANY) lets the planner walk idx_tasks_live_status_created in sort order.
        values["status"] = filters.statuses[0].value
    elif filters.statuses:
        values["statuses"] = [s.value for s in filters.statuses]
    if filters.priorities:
        values["priorities"] = [int(p) for p in filters.priorities]
    if filters.assignee_ids:
        values["assignee_ids"] = list(filters.assignee_ids)
    for name in ("due_after", "due_before", "created_after", "created_before"):
        if (value := getattr(filters, name)) is not None:
            values[name] = value
    if filters.search:
        values["search"] = f"%{escape_like(filters.search)}%"
    if filters.tags_any:
        values["tags_any"] = sorted({n.lower() for n in filters.tags_any})
    if filters.tags_all:
        wanted = sorted({n.lower() for n in filters.tags_all})
        values["tags_all"] = wanted
        values["tags_all_count"] = len(wanted)
    return values


@dataclass(frozen=True)
class _Shape:
    """Everything that changes a list statement's SQL text; the values bound to it are not part of it."""

    names: frozenset[str]  # the bind values present (filters, cursors)
    deleted: str = "live"  # live | all | only
    unassigned: bool = False
    sort: TaskSort | None = None  # None: the count
    mode: str = "offset"  # offset | forward | backward


def _deleted_mode(filters: TaskFilters) -> str:
    return "only" if filters.only_deleted else "all" if filters.include_deleted else "live"


def _conditions(shape: _Shape) -> list[Q]:
    """The WHERE conditions of the shape's filters."""
    names = shape.names
    conditions: list[Q] = []
    if shape.deleted == "only":
        conditions.append(Q(deleted_at__isnull=False))
    elif shape.deleted == "live":
        conditions.append(Q(deleted_at__isnull=True))
    if "status" in names:
        conditions.append(Q(status=Param("status")))
    if "statuses" in names:
        conditions.append(Q(status=AnyOf(Param("statuses", "text[]"))))
    if "priorities" in names:
        conditions.append(Q(priority=AnyOf(Param("priorities", "smallint[]"))))
    assignee = []
    if "assignee_ids" in names:
        assignee.append(Q(assignee_id=AnyOf(Param("assignee_ids", "text[]"))))
    if shape.unassigned:
        assignee.append(Q(assignee_id__isnull=True))
    if assignee:
        conditions.append(Q(*assignee, join_type=Q.OR))
    for name, lookup in (
        ("due_after", "due_date__gte"),
        ("due_before", "due_date__lt"),
        ("created_after", "created_at__gte"),
        ("created_before", "created_at__lt"),
    ):
        if name in names:
            conditions.append(Q(**{lookup: Param(name)}))
    if "search" in names:
        conditions.append(Q(Q(title_matches=TRUE), Q(description_matches=TRUE), join_type=Q.OR))
    if "tags_any" in names:
        conditions.append(Q(id__in=_carrying_tags("tags_any")))
    if "tags_all" in names:
        conditions.append(Q(id__in=_carrying_tags("tags_all", every=True)))
    return conditions


def _carrying_tags(name: str, *, every: bool = False) -> QueryBuilder:
    """Ids of tasks linked to a tag named (case-insensitively) in the array parameter `name` (with `every`: to
    as many distinct such names as the parameter `<name>_count`). Read from the links and the tags only: a
    QuerySet on Tag with `.values("tasks__id")` also joins the tasks table back in, which doubles the work."""
    links, task_key, tag_key = _links()
    tags = Table(Tag._meta.db_table)
    lower_name = Lower(tags.name)
    query = (
        Task._meta.db.query_class.from_(links)
        .join(tags).on(tags.id == links[tag_key])
        .select(links[task_key])
        .where(lower_name == AnyOf(Param(name, "text[]")))
    )
    if every:
        query = query.groupby(links[task_key]).having(
            Count(lower_name).distinct() == Param(f"{name}_count")
        )
    return query


def _keyset(sort: TaskSort, names: frozenset[str], side: str) -> Q:
    """Rows strictly after (side "after") or before ("before") the cursor's row in the sort's logical order."""
    after = side == "after"
    value, row_id = Param(f"{side}_value"), Param(f"{side}_id")
    # Descending order: rows after have smaller keys; ascending: larger. "before" flips it.
    op = "lt" if sort.descending == after else "gt"
    column = sort.field.value
    # (column, id) op (value, id): the bound on the column alone keeps it an index range condition.
    beyond = Q(**{f"{column}__{op}e": value}) & (Q(**{f"{column}__{op}": value}) | Q(**{f"id__{op}": row_id}))
    if sort.field not in _NULLABLE:
        return beyond
    # NULLs sort after every value in the logical order.
    is_null, not_null = Q(**{f"{column}__isnull": True}), Q(**{f"{column}__isnull": False})
    if f"{side}_value" not in names:  # the cursor's row has no value
        return is_null & Q(**{f"id__{op}": row_id}) if after else not_null | Q(**{f"id__{op}": row_id})
    return beyond | is_null if after else not_null & beyond


def _ordering(sort: TaskSort, *, reverse: bool) -> tuple[str, ...]:
    """ORDER BY for the sort (NULLs last in the logical order), with id as the unique tiebreaker."""
    descending = sort.descending != reverse
    sign = "-" if descending else ""
    keys = (f"{sign}{sort.field.value}", f"{sign}id")
    # PostgreSQL puts NULLs last ascending and first descending; the other two orders sort on IS NULL first.
    if sort.field in _NULLABLE and descending != reverse:
        return ("-missing" if reverse else "missing", *keys)
    return keys


def _filtered(shape: _Shape) -> QuerySet[Task]:
    query = Task.all()
    if "search" in shape.names:
        table = Task._meta.basetable
        pattern = Param("search")
        query = query.annotate(
            title_matches=ILike(table.title, pattern), description_matches=ILike(table.description, pattern)
        )
    return query.filter(*_conditions(shape))


@lru_cache(maxsize=SHAPES_MAX)
def _page_statement(shape: _Shape) -> Statement:
    """One page of the shape (LIMIT `limit`, OFFSET `offset` for offset pages)."""
    assert shape.sort is not None
    sort = shape.sort
    query = _filtered(shape)
    for side in ("after", "before"):
        if f"{side}_id" in shape.names:
            query = query.filter(_keyset(sort, shape.names, side))
    if sort.field in _NULLABLE:
        query = query.annotate(missing=Task._meta.basetable[sort.field.value].isnull())
    query = query.order_by(*_ordering(sort, reverse=shape.mode == "backward")).limit(IntParam("limit"))
    if shape.mode == "offset":
        query = query.offset(IntParam("offset"))
    return compile_query(query.values(*COLUMNS))


@lru_cache(maxsize=SHAPES_MAX)
def _count_statement(shape: _Shape) -> Statement:
    """The count(*) of the shape's filters."""
    return compile_query(_filtered(shape).count())


@dataclass(frozen=True)
class PageQuery:
    statement: Statement
    values: dict[str, Any]
    limit: int
    backward: bool


def _bind_cursor(sort: TaskSort, cursor: str, side: str, values: dict[str, Any]) -> None:
    value, row_id = sort.cursors.decode(cursor, field_name=side)
    values[f"{side}_id"] = row_id
    if value is not None:
        values[f"{side}_value"] = value


def page_query(filters: TaskFilters, sort: TaskSort, page: OffsetPage | CursorPage) -> PageQuery:
    """The statement of one page and its values; it fetches one extra row to learn whether more exist."""
    values = _filter_values(filters)
    if isinstance(page, OffsetPage):
        limit, mode, backward = page.limit, "offset", False
        values["offset"] = (page.page - 1) * limit
    else:
        backward = page.last is not None or (page.before is not None and page.first is None)
        mode = "backward" if backward else "forward"
        size = page.last if backward else page.first
        limit = size if size is not None else DEFAULT_PAGE_SIZE
        if page.after:
            _bind_cursor(sort, page.after, "after", values)
        if page.before:
            _bind_cursor(sort, page.before, "before", values)
    values["limit"] = limit + 1
    shape = _Shape(frozenset(values), _deleted_mode(filters), filters.unassigned, sort, mode)
    return PageQuery(_page_statement(shape), values, limit, backward)


def count_query(filters: TaskFilters) -> tuple[Statement, dict[str, Any]]:
    """The count(*) for the filters (cursors do not narrow totalCount), and its values."""
    values = _filter_values(filters)
    return _count_statement(_Shape(frozenset(values), _deleted_mode(filters), filters.unassigned)), values


# ---------------------------------------------------------------- rows by id, tag links, bulk upsert


@lru_cache(maxsize=1)
def by_id_statement() -> Statement:
    """The row of task `id`."""
    return compile_query(Task.filter(id=Param("id")).values(*COLUMNS))


@lru_cache(maxsize=1)
def by_ids_statement() -> Statement:
    """The rows of tasks `ids` (an array: one statement whatever their number)."""
    return compile_query(Task.filter(id=AnyOf(Param("ids", "uuid[]"))).values(*COLUMNS))


@lru_cache(maxsize=1)
def locked_statement() -> Statement:
    """The rows of tasks `ids`, locked FOR UPDATE for the transaction."""
    return compile_query(Task.filter(id=AnyOf(Param("ids", "uuid[]"))).select_for_update())


def column(name: str) -> Field:
    """A tasks column for statements of Tortoise's query builder, by model field name (KeyError if none)."""
    return Task._meta.basetable[Task._meta.fields_db_projection[name]]


# Task.create() builds its INSERT anew on every call when columns with a database default are left out.
INSERT_COLUMNS = ("id", "title", "description", "status", "priority", "due_date", "assignee_id", "creator_id")


@lru_cache(maxsize=1)
def insert_statement() -> Statement:
    """Inserts one task from `INSERT_COLUMNS`, returning its row (created_at and updated_at are the database's)."""
    query = Task._meta.db.query_class.into(Task._meta.basetable).columns(*map(column, INSERT_COLUMNS))
    query = query.insert(*map(Param, INSERT_COLUMNS))
    return compile_query(query.returning(*map(column, COLUMNS)))


def _links() -> tuple[Table, str, str]:
    """The through table of `Task.tags` and its task and tag columns."""
    relation = Task._meta.fields_map["tags"]
    return Table(relation.through), relation.backward_key, relation.forward_key


# Tag links are written on the through table of `Task.tags` with Tortoise's query builder, as the relation's
# own add()/remove() do; those first SELECT the existing links, which a writer holding the task's row lock
# already has, and add() wants model instances of the tags.


@lru_cache(maxsize=1)
def link_statement() -> Statement:
    """Inserts the links `task_ids[i]` - `tag_ids[i]` (two equally long arrays)."""
    table, task_key, tag_key = _links()
    query = Task._meta.db.query_class.into(table).columns(task_key, tag_key)
    return compile_query(query.select(Unnest(Param("task_ids", "uuid[]")), Unnest(Param("tag_ids", "uuid[]"))))


@lru_cache(maxsize=1)
def unlink_statement() -> Statement:
    """Deletes the links of tasks `task_ids` to the tags `tag_ids`, returning (task_id, tag_id) of each."""
    table, task_key, tag_key = _links()
    query = Task._meta.db.query_class.from_(table).delete().returning(table[task_key], table[tag_key])
    return compile_query(
        query.where(table[task_key] == AnyOf(Param("task_ids", "uuid[]")))
        .where(table[tag_key] == AnyOf(Param("tag_ids", "uuid[]")))
    )


@lru_cache(maxsize=1)
def unlink_all_statement() -> Statement:
    """Deletes every link of tasks `task_ids`, returning (task_id, tag_id) of each."""
    table, task_key, tag_key = _links()
    query = Task._meta.db.query_class.from_(table).delete().returning(table[task_key], table[tag_key])
    return compile_query(query.where(table[task_key] == AnyOf(Param("task_ids", "uuid[]"))))


# What a bulk upsert writes, with the array type each column travels as.
UPSERT_COLUMNS = {
    "id": "uuid[]", "title": "text[]", "description": "text[]", "status": "text[]", "priority": "smallint[]",
    "due_date": "timestamptz[]", "assignee_id": "text[]",
}


@lru_cache(maxsize=1)
def upsert_statement() -> Statement:
    """Inserts tasks from one array per column (and `creator_id`), replacing the rows whose id exists: Tortoise's
    upsert (ON CONFLICT ... DO UPDATE) through its query builder, which, unlike bulk_create, can RETURN the
    rows; `inserted` tells a new row from a replaced one (xmax = 0)."""
    query = (
        Task._meta.db.query_class.into(Task._meta.basetable)
        .columns(*map(column, UPSERT_COLUMNS), column("creator_id"))
        .select(*(Unnest(Param(name, kind)) for name, kind in UPSERT_COLUMNS.items()), Param("creator_id", "text"))
        .on_conflict("id")
    )
    for name in list(UPSERT_COLUMNS)[1:]:
        query = query.do_update(column(name))
    inserted = (Field("xmax") == ValueWrapper(0, allow_parametrize=False)).as_("inserted")
    return compile_query(query.returning(*map(column, COLUMNS), inserted))
