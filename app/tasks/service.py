"""Tasks: list with filters and both paginations, get, create, update, soft delete/restore, hard delete,
tag links, and bulk upsert. Every multi-statement write runs in one transaction; change notices go out
after commit (app.common.changes).

Writes take the acting `Principal` (`actor`, required: code outside the API names a system actor such as
`app.auth.principal.SYSTEM`, so a caller that forgot it fails instead of running as admin) and check the
permission matrix (app.auth.permissions) against the row as locked inside the transaction, so a denial
raises FORBIDDEN before anything is written. Each write records its audit rows in the same transaction."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from app.audit import public as audit
from app.audit.public import Action, AuditItem, created, diff, removed
from app.auth import permissions as can
from app.auth.principal import Principal
from app.common.changes import TASK_TAGS_PART, Change, ChangeKind, Entity, emit
from app.common.errors import FieldError, NotFound, ValidationFailed
from app.common.ids import parse_uuid, uuid7
from app.common.text import required_text
from app.common.pagination import CursorPage, OffsetPage, PageResult, validate_page
from app.common.unset import UNSET, Maybe, is_set
from app.common.timestamps import as_utc
from app.stores import sql
from app.stores.sql import ClockTimestamp
from app.tags.public import Tag, TagRow, find_existing_tag_ids, find_existing_tags
from app.users.public import existing_user_ids
from app.tasks import keys
from app.tasks.models import DESCRIPTION_MAX, TITLE_MAX, Priority, Task, TaskStatus
from app.tasks.queries import (
    COLUMNS,
    UPSERT_COLUMNS,
    TaskFilters,
    TaskSort,
    by_id_statement,
    by_ids_statement,
    count_query,
    insert_statement,
    cursors_for,
    link_statement,
    locked_statement,
    page_query,
    unlink_all_statement,
    unlink_statement,
    upsert_statement,
)

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BULK_MAX = 1000
TAGS_PER_TASK_MAX = 50
_ENTITY = Entity.TASK.value


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: str
    title: str
    description: str | None
    status: TaskStatus
    priority: Priority
    due_date: datetime | None
    assignee_id: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    creator_id: str | None = None

    def snapshot(self) -> dict[str, Any]:
        """Plain values of every field (for change notices of deleted tasks and audit rows)."""
        data = {name: getattr(self, name) for name in _ROW_FIELDS}  # asdict() deep-copies: 10x the cost
        data["status"] = self.status.value
        data["priority"] = self.priority.name
        return data


_ROW_FIELDS = tuple(field.name for field in fields(TaskRow))

# Plain lookups, not Enum calls: a page builds one row per task (CHECK constraints keep the values valid).
_STATUS_BY_VALUE = {status.value: status for status in TaskStatus}
_PRIORITY_BY_RANK = {priority.value: priority for priority in Priority}


def _row(record: asyncpg.Record) -> TaskRow:
    return TaskRow(
        id=str(record["id"]),
        title=record["title"],
        description=record["description"],
        status=_STATUS_BY_VALUE[record["status"]],
        priority=_PRIORITY_BY_RANK[record["priority"]],
        due_date=record["due_date"],
        assignee_id=record["assignee_id"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        deleted_at=record["deleted_at"],
        creator_id=record["creator_id"],
    )


def _audited(row: TaskRow) -> dict[str, Any]:
    """The fields an audit row shows (timestamps the database sets are left out)."""
    data = row.snapshot()
    for name in ("id", "created_at", "updated_at"):
        data.pop(name)
    return data


async def _tags_of(task_uuid: UUID) -> dict[str, str]:
    """The task's tags (through `Task.tags`): name by id, in id order."""
    return {str(tag_id): name for tag_id, name in await Tag.filter(tasks=task_uuid).order_by("id").values_list("id", "name")}


async def _locked(uuid: UUID, task_id: str, *, deleted: bool = False) -> asyncpg.Record:
    """The task's row, locked for this transaction; NotFound unless it is live (or soft-deleted, with deleted)."""
    current = await locked_statement().fetchrow({"ids": [uuid]})
    if current is None or (current["deleted_at"] is not None) != deleted:
        raise NotFound(f"{'deleted ' if deleted else ''}task {task_id} not found")
    return current


async def _reread(uuid: UUID) -> TaskRow:
    """The row as a write in this transaction left it (a trigger sets updated_at; QuerySet.update returns no row)."""
    return _row(await by_id_statement().fetchrow({"id": uuid}))


async def _link(task_ids: Sequence[UUID], tag_ids: Sequence[UUID]) -> None:
    if tag_ids:
        await link_statement().execute({"task_ids": task_ids, "tag_ids": tag_ids})


def _state(task: TaskRow | asyncpg.Record) -> keys.State:
    """What decides the slices of the task lists a row is in (app.tasks.keys.row_partitions): its status,
    assignee, title and description."""
    if isinstance(task, TaskRow):
        return task.status.value, task.assignee_id, task.title, task.description
    return task["status"], task["assignee_id"], task["title"], task["description"]


def _ensure_may_update(actor: Principal, current: asyncpg.Record, action: str) -> None:
    can.ensure(actor, can.can_update_task(actor, _row(current)), action)


# ---------------------------------------------------------------- validation


def validate_title(title: object, field: str = "title") -> str:
    """Trimmed title of 1..200 characters without control characters."""
    return required_text(title, field=field, max_length=TITLE_MAX, forbidden=_CONTROL)


def validate_description(description: str | None, field: str = "description") -> str | None:
    """None, or text of at most 10,000 characters (blank becomes None)."""
    if description is None:
        return None
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(FieldError(field, f"must be at most {DESCRIPTION_MAX} characters"))
    if "\x00" in description:
        raise ValidationFailed(FieldError(field, "must not contain NUL characters"))
    return description if description.strip() else None


def validate_due_date(due_date: datetime | None, field: str = "dueDate") -> datetime | None:
    """The due date as an aware datetime (naive values are read as UTC); the DateTime scalar has already
    refused instants outside years 1..9999."""
    if due_date is None:
        return None
    return as_utc(due_date)


def validate_assignee_id(assignee_id: str | None, field: str = "assigneeId") -> str | None:
    """None or a MongoDB ObjectId string (lower-case hex)."""
    if assignee_id is None:
        return None
    value = assignee_id.strip().lower()
    if not _OBJECT_ID.match(value):
        raise ValidationFailed(FieldError(field, "is not a valid user id"))
    return value


async def ensure_assignees_exist(assignees: dict[str, str]) -> None:
    """Reject assignments to users that do not exist; `assignees` maps input field → user id."""
    if not assignees:
        return
    found = await existing_user_ids(ids=set(assignees.values()))
    missing = [FieldError(f, f"user {uid} does not exist") for f, uid in assignees.items() if uid not in found]
    if missing:
        raise ValidationFailed(missing)


def _task_uuid(task_id: str) -> UUID:
    uuid = parse_uuid(task_id)
    if uuid is None:
        raise NotFound(f"task {task_id} not found")
    return uuid


# ---------------------------------------------------------------- reads


async def find_tasks(
    *, filters: TaskFilters, sort: TaskSort, page: OffsetPage | CursorPage, with_total: bool = False
) -> PageResult[TaskRow]:
    """One page of tasks; the total (ignoring cursors) only when asked for."""
    validate_page(page)
    query = page_query(filters, sort, page)

    async def load_total() -> int | None:
        if not with_total:
            return None
        statement, values = count_query(filters)
        return await statement.fetchval(values)

    records, total = await asyncio.gather(query.statement.fetch(query.values), load_total())
    has_more = len(records) > query.limit
    records = records[: query.limit]
    if query.backward:
        records = list(reversed(records))
    if isinstance(page, OffsetPage):
        has_next, has_previous = has_more, page.page > 1
    elif query.backward:
        has_next, has_previous = page.before is not None, has_more
    else:
        has_next, has_previous = has_more, page.after is not None
    return PageResult(
        items=[_row(r) for r in records],
        cursors=cursors_for(sort, records),
        has_next_page=has_next,
        has_previous_page=has_previous,
        total_count=total,
    )


async def get_task(*, task_id: str, include_deleted: bool = False) -> TaskRow | None:
    """The task, or None (soft-deleted tasks only when include_deleted)."""
    uuid = parse_uuid(task_id)
    if uuid is None:
        return None
    record = await by_id_statement().fetchrow({"id": uuid})
    if record is None or (record["deleted_at"] is not None and not include_deleted):
        return None
    return _row(record)


async def get_tasks_by_ids(*, ids: Sequence[str]) -> list[TaskRow | None]:
    """Tasks (soft-deleted included) for ids, in key order, None for missing, in one query."""
    uuids = [u for i in ids if (u := parse_uuid(i)) is not None]
    records = await by_ids_statement().fetch({"ids": uuids})
    by_id = {r["id"]: _row(r) for r in records}
    return [by_id.get(parse_uuid(i)) for i in ids]


# Raw: the newest N tasks of each assignee is a LATERAL join over the ids (an index walk per assignee);
# Tortoise has no lateral join, and filtering a window function needs a derived table it cannot build either.
_BY_ASSIGNEES = (
    "SELECT t.* FROM unnest($1::text[]) AS a(assignee_id) CROSS JOIN LATERAL ("
    f"SELECT {', '.join('x.' + c for c in COLUMNS)} FROM tasks x "
    "WHERE x.assignee_id = a.assignee_id AND x.deleted_at IS NULL ORDER BY x.created_at DESC, x.id DESC LIMIT $2) t"
)


async def tasks_by_assignee_ids(*, ids: Sequence[str], limit_per_user: int = 100) -> list[list[TaskRow]]:
    """Live tasks of each assignee (newest first, at most limit_per_user each), in key order, in one query."""
    records = await sql.fetch(_BY_ASSIGNEES, list(ids), limit_per_user)
    grouped: dict[str, list[TaskRow]] = {}
    for record in records:
        grouped.setdefault(record["assignee_id"], []).append(_row(record))
    return [grouped.get(i, []) for i in ids]


# ---------------------------------------------------------------- writes


async def create_task(*, actor: Principal, **fields: Any) -> TaskRow:
    """Create a task with its tags in one transaction (the fields of `create_task_with_tags`)."""
    task, _ = await create_task_with_tags(actor=actor, **fields)
    return task


async def create_task_with_tags(
    *,
    title: str,
    description: str | None = None,
    status: TaskStatus = TaskStatus.TODO,
    priority: Priority = Priority.MEDIUM,
    due_date: datetime | None = None,
    assignee_id: str | None = None,
    tag_ids: Sequence[str] = (),
    actor: Principal,
) -> tuple[TaskRow, list[TagRow]]:
    """Create a task with its tags in one transaction; input is validated before anything is written.

    Returns the task and its tags as linked, by name as `Task.tags` lists them (so an answer need not read them back)."""
    can.ensure(actor, can.can_create_task(actor), "create tasks")
    clean = {
        "title": validate_title(title),
        "description": validate_description(description),
        "status": TaskStatus(status).value,
        "priority": int(Priority(priority)),
        "due_date": validate_due_date(due_date),
        "assignee_id": validate_assignee_id(assignee_id),
    }
    if len(tag_ids) > TAGS_PER_TASK_MAX:
        raise ValidationFailed(FieldError("tagIds", f"at most {TAGS_PER_TASK_MAX} tags per task"))
    if clean["assignee_id"]:
        await ensure_assignees_exist({"assigneeId": clean["assignee_id"]})
    async with sql.transaction() as conn:
        tags = await find_existing_tags(ids=tag_ids)
        tag_uuids = [UUID(tag.id) for tag in tags]
        record = await insert_statement().fetchrow({"id": uuid7(), **clean, "creator_id": actor.user_id})
        task = _row(record)
        await _link([record["id"]] * len(tag_uuids), tag_uuids)
        values = _audited(task)
        if tag_uuids:
            values["tag_ids"] = sorted(str(u) for u in tag_uuids)
        await audit.record(
            conn, actor=actor, action=Action.CREATE, entity=_ENTITY, entity_id=task.id, changes=created(values)
        )
        await emit(Change(Entity.TASK, ChangeKind.CREATED, (task.id,), tuple(clean) + (("tags",) if tag_uuids else ()),
                          partitions=keys.row_partitions(_state(task), tags=[tag.name for tag in tags])))
    return task, tags


_UPDATABLE = ("title", "description", "status", "priority", "due_date", "assignee_id")


async def update_task(
    *,
    task_id: str,
    title: Maybe[str] = UNSET,
    description: Maybe[str | None] = UNSET,
    status: Maybe[TaskStatus] = UNSET,
    priority: Maybe[Priority] = UNSET,
    due_date: Maybe[datetime | None] = UNSET,
    assignee_id: Maybe[str | None] = UNSET,
    actor: Principal,
) -> TaskRow:
    """Partial update: UNSET leaves a field alone, None clears an optional one. Soft-deleted tasks are not found."""
    updates: dict[str, Any] = {}
    if is_set(title):
        updates["title"] = validate_title(title)
    if is_set(description):
        updates["description"] = validate_description(description)
    if is_set(status):
        if status is None:
            raise ValidationFailed(FieldError("status", "must not be null"))
        updates["status"] = TaskStatus(status).value
    if is_set(priority):
        if priority is None:
            raise ValidationFailed(FieldError("priority", "must not be null"))
        updates["priority"] = int(Priority(priority))
    if is_set(due_date):
        updates["due_date"] = validate_due_date(due_date)
    if is_set(assignee_id):
        updates["assignee_id"] = validate_assignee_id(assignee_id)
    uuid = _task_uuid(task_id)
    if updates.get("assignee_id"):
        await ensure_assignees_exist({"assigneeId": updates["assignee_id"]})
    async with sql.transaction() as conn:
        current = await _locked(uuid, task_id)
        _ensure_may_update(actor, current, "update this task")
        changed = [key for key, value in updates.items() if current[key] != value]
        if not changed:
            return _row(current)
        await Task.filter(id=uuid).update(**{key: updates[key] for key in changed})
        task = await _reread(uuid)
        await audit.record(conn, actor=actor, action=Action.UPDATE, entity=_ENTITY, entity_id=task.id,
                     changes=diff(_audited(_row(current)), _audited(task), changed))
        await emit(Change(Entity.TASK, ChangeKind.UPDATED, (task.id,), tuple(changed),
                          partitions=keys.update_partitions(_state(current), _state(task), changed)))
    return task


async def _set_deleted_at(*, task_id: str, deleted: bool, actor: Principal) -> TaskRow:
    """Soft-delete (deleted) or restore a task the actor may update."""
    uuid = _task_uuid(task_id)
    async with sql.transaction() as conn:
        current = await _locked(uuid, task_id, deleted=not deleted)
        _ensure_may_update(actor, current, "delete this task" if deleted else "restore this task")
        await Task.filter(id=uuid).update(deleted_at=ClockTimestamp() if deleted else None)
        task = await _reread(uuid)
        await audit.record(conn, actor=actor, action=Action.SOFT_DELETE if deleted else Action.RESTORE, entity=_ENTITY,
                     entity_id=task.id, changes=diff(_audited(_row(current)), _audited(task), ["deleted_at"]))
        # The same before and after; its tags (the row lock keeps their links still) name its tag slices.
        slices = keys.row_partitions(_state(task), tags=(await _tags_of(uuid)).values())
        if deleted:
            await emit(Change(Entity.TASK, ChangeKind.DELETED, (task.id,), ("deleted_at",),
                              snapshot=_row(current).snapshot(), partitions=slices))
        else:
            await emit(Change(Entity.TASK, ChangeKind.RESTORED, (task.id,), ("deleted_at",), partitions=slices))
    return task


async def soft_delete_task(*, task_id: str, actor: Principal) -> TaskRow:
    """Hide a task (deleted_at = now); NotFound when missing or already deleted."""
    return await _set_deleted_at(task_id=task_id, deleted=True, actor=actor)


async def restore_task(*, task_id: str, actor: Principal) -> TaskRow:
    """Bring back a soft-deleted task; NotFound when it is missing or not deleted."""
    return await _set_deleted_at(task_id=task_id, deleted=False, actor=actor)


async def delete_task(*, task_id: str, actor: Principal) -> TaskRow | None:
    """Delete a task for good (its tag links cascade); returns its last state, None when it did not exist."""
    can.ensure(actor, can.can_hard_delete_task(actor), "delete tasks for good")
    uuid = parse_uuid(task_id)
    if uuid is None:
        return None
    async with sql.transaction() as conn:
        row = await locked_statement().fetchrow({"ids": [uuid]})
        if row is None:
            return None
        task = _row(row)
        tags = await _tags_of(uuid)
        tag_ids = list(tags)
        await Task.filter(id=uuid).delete()
        await audit.record(conn, actor=actor, action=Action.HARD_DELETE, entity=_ENTITY, entity_id=task.id,
                     changes=removed({**_audited(task), "tag_ids": tag_ids}))
        await emit(Change(Entity.TASK, ChangeKind.DELETED, (task.id,), (), snapshot=task.snapshot(),
                          partitions=keys.row_partitions(_state(task), tags=tags.values())))
    return task


async def _tags_changed(
    conn: asyncpg.Connection, actor: Principal, action: Action, current: asyncpg.Record, old: list[str], new: list[str],
    names: list[str],
) -> None:
    """Audit and announce a change of the task's tag links; `names` are the tags linked or unlinked."""
    task_id = str(current["id"])
    await audit.record(conn, actor=actor, action=action, entity=_ENTITY, entity_id=task_id,
                 changes={"tag_ids": {"old": old, "new": new}})
    # The row stays as it was (and locked): only lists filtered by tags can gain or lose it.
    await emit(Change(Entity.TASK, ChangeKind.TAGS_CHANGED, (task_id,), ("tags",),
                      partitions=keys.link_partitions(_state(current), tags=names), part=TASK_TAGS_PART))


async def add_tags(*, task_id: str, tag_ids: Sequence[str], actor: Principal) -> TaskRow:
    """Link tags to a task (already linked ones are ignored); an unknown tag writes nothing."""
    uuid = _task_uuid(task_id)
    async with sql.transaction() as conn:
        current = await _locked(uuid, task_id)
        _ensure_may_update(actor, current, "change this task's tags")
        tags = await find_existing_tags(ids=tag_ids)
        old = list(await _tags_of(uuid))
        # The row lock keeps every other writer of this task's links out: the missing ones are what to add.
        linked = set(old)
        added = [tag for tag in tags if tag.id not in linked]
        new = sorted(old + [tag.id for tag in added])
        if len(new) > TAGS_PER_TASK_MAX:
            raise ValidationFailed(FieldError("tagIds", f"at most {TAGS_PER_TASK_MAX} tags per task"))
        if added:
            await _link([uuid] * len(added), [UUID(tag.id) for tag in added])
            await _tags_changed(conn, actor, Action.ADD_TAGS, current, old, new, [tag.name for tag in added])
    return _row(current)


async def remove_tags(*, task_id: str, tag_ids: Sequence[str], actor: Principal) -> TaskRow:
    """Unlink tags from a task (tags it does not carry are ignored)."""
    uuid = _task_uuid(task_id)
    tag_uuids = [u for i in tag_ids if (u := parse_uuid(i)) is not None]
    async with sql.transaction() as conn:
        current = await _locked(uuid, task_id)
        _ensure_may_update(actor, current, "change this task's tags")
        names = await _tags_of(uuid)
        old = list(names)
        gone = await unlink_statement().fetch({"task_ids": [uuid], "tag_ids": tag_uuids})
        if gone:
            removed_ids = {str(r["tag_id"]) for r in gone}
            # (the row lock kept its links as read: every removed one has its name here)
            await _tags_changed(conn, actor, Action.REMOVE_TAGS, current, old, [t for t in old if t not in removed_ids],
                                [names[t] for t in removed_ids if t in names])
    return _row(current)


@dataclass(frozen=True)
class TaskUpsert:
    """One bulk-upsert item: without id it is created; with an id it is created or fully replaced.

    `tag_ids=None` leaves an existing task's tags alone; a list replaces them.
    """

    title: str
    id: str | None = None
    description: str | None = None
    status: TaskStatus = TaskStatus.TODO
    priority: Priority = Priority.MEDIUM
    due_date: datetime | None = None
    assignee_id: str | None = None
    tag_ids: Sequence[str] | None = None


@dataclass
class BulkUpsertResult:
    created_ids: list[str]
    updated_ids: list[str]
    tasks: list[TaskRow]


def _validate_upsert(index: int, item: TaskUpsert, errors: list[FieldError]) -> tuple | None:
    prefix = f"items.{index}"
    try:
        uuid = uuid7() if item.id is None else parse_uuid(item.id)
        if uuid is None:
            raise ValidationFailed(FieldError(f"{prefix}.id", "is not a valid id"))
        if item.tag_ids is not None and len(item.tag_ids) > TAGS_PER_TASK_MAX:
            raise ValidationFailed(FieldError(f"{prefix}.tagIds", f"at most {TAGS_PER_TASK_MAX} tags per task"))
        return (
            uuid,
            validate_title(item.title, f"{prefix}.title"),
            validate_description(item.description, f"{prefix}.description"),
            TaskStatus(item.status).value,
            int(Priority(item.priority)),
            validate_due_date(item.due_date, f"{prefix}.dueDate"),
            validate_assignee_id(item.assignee_id, f"{prefix}.assigneeId"),
        )
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        return None


async def bulk_upsert_tasks(*, items: Sequence[TaskUpsert], actor: Principal) -> BulkUpsertResult:
    """Create or replace many tasks in one transaction with a fixed number of statements, whatever the count."""
    can.ensure(actor, can.can_bulk_upsert_tasks(actor), "bulk upsert tasks")
    if not items:
        return BulkUpsertResult([], [], [])
    if len(items) > BULK_MAX:
        raise ValidationFailed(FieldError("items", f"at most {BULK_MAX} items per call"))
    errors: list[FieldError] = []
    rows = [_validate_upsert(i, item, errors) for i, item in enumerate(items)]
    seen: set[UUID] = set()
    for index, row in enumerate(rows):
        if row is not None:
            if row[0] in seen:
                errors.append(FieldError(f"items.{index}.id", "appears more than once"))
            seen.add(row[0])
    if errors:
        raise ValidationFailed(errors)
    assignees = {f"items.{i}.assigneeId": row[6] for i, row in enumerate(rows) if row and row[6]}
    await ensure_assignees_exist(assignees)
    tag_links = [(rows[i][0], tag) for i, item in enumerate(items) if item.tag_ids for tag in item.tag_ids]
    replace_tags_of = [rows[i][0] for i, item in enumerate(items) if item.tag_ids is not None]
    async with sql.transaction() as conn:
        tag_uuids = await find_existing_tag_ids(ids=list(dict.fromkeys(t for _, t in tag_links)), field="tagIds")
        by_text = {str(u): u for u in tag_uuids}
        # The replaced rows as they were, locked: the audit rows show old and new values.
        ids = [row[0] for row in rows]  # type: ignore[index]
        before = {r["id"]: r for r in await locked_statement().fetch({"ids": ids})}
        columns = {name: list(values) for name, values in zip(UPSERT_COLUMNS, zip(*rows, strict=True), strict=True)}
        records = await upsert_statement().fetch({**columns, "creator_id": actor.user_id})
        # The replaced links as they were (for the audit rows of the tasks whose tags are replaced).
        old_tags: dict[UUID, list[str]] = {}
        if replace_tags_of:
            for link in await unlink_all_statement().fetch({"task_ids": replace_tags_of}):
                old_tags.setdefault(link["task_id"], []).append(str(link["tag_id"]))
        if tag_links:
            pairs = list(dict.fromkeys((task, by_text[str(parse_uuid(tag))]) for task, tag in tag_links))
            await _link([p[0] for p in pairs], [p[1] for p in pairs])
        by_id = {r["id"]: r for r in records}
        ordered = [by_id[task_id] for task_id in ids]
        created_ids = [str(r["id"]) for r in ordered if r["inserted"]]
        updated_ids = [str(r["id"]) for r in ordered if not r["inserted"]]
        await audit.record_many(conn, actor=actor, items=[
            _upsert_audit(_row(r), before.get(r["id"]), sorted(old_tags.get(r["id"], [])), item.tag_ids)
            for r, item in zip(ordered, items, strict=True)
        ])
        if created_ids:
            await emit(Change(Entity.TASK, ChangeKind.CREATED, tuple(created_ids),
                              partitions=keys.row_partitions(*(_state(r) for r in ordered if r["inserted"]))))
        if updated_ids:
            # Before (locked) and after; replaced tag links belong to rows whose slices are named. A row that
            # was not there when locked (inserted concurrently, then replaced) has no known old state.
            replaced = [r for r in ordered if not r["inserted"]]
            slices = None
            if all(r["id"] in before for r in replaced):
                slices = keys.row_partitions(*(s for r in replaced for s in (_state(before[r["id"]]), _state(r))))
            await emit(Change(Entity.TASK, ChangeKind.UPDATED, tuple(updated_ids), partitions=slices))
    return BulkUpsertResult(created_ids, updated_ids, [_row(r) for r in ordered])


def _upsert_audit(
    task: TaskRow, old: asyncpg.Record | None, old_tag_ids: list[str], tag_ids: Sequence[str] | None
) -> AuditItem:
    new = _audited(task)
    if tag_ids is not None:
        new["tag_ids"] = sorted({str(parse_uuid(t)) for t in tag_ids})
    if old is None:
        return AuditItem(Action.BULK_CREATE, _ENTITY, task.id, created(new))
    # Old tag ids are known where the tags are replaced; elsewhere `new` has none, so the diff skips them.
    previous = {**_audited(_row(old)), "tag_ids": old_tag_ids}
    return AuditItem(Action.BULK_REPLACE, _ENTITY, task.id, diff(previous, new))
