"""Tags: create, rename/recolor, delete, list with task counts, and the batched lookups loaders use.

Tag writes are for admins (tags are shared by the whole team); each records an audit row in its transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from app.audit import public as audit
from app.audit.public import Action, created, diff, removed
from app.auth import permissions as can
from app.auth.principal import Principal
from app.common.changes import Change, ChangeKind, Entity, emit
from app.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.common.ids import parse_uuid, uuid7
from app.common.text import required_text
from app.common.unset import UNSET, Maybe, is_set
from app.stores import sql
from app.tags.models import NAME_MAX

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENTITY = Entity.TAG.value


@dataclass(frozen=True, slots=True)
class TagRow:
    id: str
    name: str
    color: str


@dataclass(frozen=True, slots=True)
class TagWithCount:
    tag: TagRow
    task_count: int


def _row(record: asyncpg.Record) -> TagRow:
    return TagRow(id=str(record["id"]), name=record["name"], color=record["color"])


def validate_name(name: str, field: str = "name") -> str:
    """Trimmed name, 1..50 printable characters; raises ValidationFailed otherwise."""
    return required_text(name, field=field, max_length=NAME_MAX, forbidden=_CONTROL)


def validate_color(color: str, field: str = "color") -> str:
    """A #rrggbb color, lower-cased; raises ValidationFailed otherwise."""
    if not isinstance(color, str) or not _COLOR.match(color):
        raise ValidationFailed(FieldError(field, "must be a #rrggbb hex color"))
    return color.lower()


def _ids(values: Sequence[str]) -> list[UUID]:
    return [uuid for value in values if (uuid := parse_uuid(value)) is not None]


async def get_tag(*, tag_id: str) -> TagRow | None:
    """The tag, or None."""
    uuid = parse_uuid(tag_id)
    if uuid is None:
        return None
    record = await sql.fetchrow("SELECT id, name, color FROM tags WHERE id = $1", uuid)
    return _row(record) if record else None


async def get_tags_by_ids(*, ids: Sequence[str]) -> list[TagRow | None]:
    """Tags for ids in key order (None for missing) in one query."""
    records = await sql.fetch("SELECT id, name, color FROM tags WHERE id = ANY($1::uuid[])", _ids(ids))
    by_id = {r["id"]: _row(r) for r in records}
    return [by_id.get(parse_uuid(i)) for i in ids]


async def tags_by_task_ids(*, task_ids: Sequence[str]) -> list[list[TagRow]]:
    """Tags of each task, in key order, sorted by name, in one query."""
    records = await sql.fetch(
        "SELECT tt.task_id, g.id, g.name, g.color FROM task_tags tt JOIN tags g ON g.id = tt.tag_id "
        "WHERE tt.task_id = ANY($1::uuid[]) ORDER BY lower(g.name), g.id",
        _ids(task_ids),
    )
    grouped: dict[UUID, list[TagRow]] = {}
    for record in records:
        grouped.setdefault(record["task_id"], []).append(_row(record))
    return [grouped.get(parse_uuid(i), []) for i in task_ids]


async def list_tags(*, with_counts: bool = True) -> list[TagWithCount]:
    """Every tag by name, with the number of live (not soft-deleted) tasks carrying it."""
    if not with_counts:
        records = await sql.fetch("SELECT id, name, color FROM tags ORDER BY lower(name), id")
        return [TagWithCount(_row(r), 0) for r in records]
    records = await sql.fetch(
        "SELECT g.id, g.name, g.color, count(t.id) AS task_count FROM tags g "
        "LEFT JOIN task_tags tt ON tt.tag_id = g.id "
        "LEFT JOIN tasks t ON t.id = tt.task_id AND t.deleted_at IS NULL "
        "GROUP BY g.id ORDER BY lower(g.name), g.id"
    )
    return [TagWithCount(_row(r), r["task_count"]) for r in records]


async def find_existing_tag_ids(*, ids: Sequence[str], field: str = "tagIds") -> list[UUID]:
    """The ids as UUIDs (deduplicated), all of which exist; unknown or malformed ones raise ValidationFailed."""
    positions: dict[UUID, int] = {}
    errors: list[FieldError] = []
    for index, value in enumerate(ids):
        uuid = parse_uuid(value)
        if uuid is None:
            errors.append(FieldError(f"{field}.{index}", "is not a valid id"))
        else:
            positions.setdefault(uuid, index)
    if errors:
        raise ValidationFailed(errors)
    if not positions:
        return []
    found = {r["id"] for r in await sql.fetch("SELECT id FROM tags WHERE id = ANY($1::uuid[])", list(positions))}
    missing = [FieldError(f"{field}.{i}", f"unknown tag {uuid}") for uuid, i in positions.items() if uuid not in found]
    if missing:
        raise ValidationFailed(missing)
    return list(positions)


def _values(tag: TagRow) -> dict[str, str]:
    return {"name": tag.name, "color": tag.color}


async def create_tag(*, name: str, color: str, actor: Principal) -> TagRow:
    """Create a tag; a name taken case-insensitively raises Conflict."""
    can.ensure(actor, can.can_write_tags(actor), "create tags")
    clean_name = validate_name(name)
    clean_color = validate_color(color)
    try:
        async with sql.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO tags (id, name, color) VALUES ($1, $2, $3) RETURNING id, name, color",
                uuid7(), clean_name, clean_color,
            )
            tag = _row(row)
            await audit.record(conn, actor=actor, action=Action.CREATE, entity=_ENTITY, entity_id=tag.id,
                         changes=created(_values(tag)))
            await emit(Change(Entity.TAG, ChangeKind.CREATED, (tag.id,), ("name", "color")))
    except asyncpg.UniqueViolationError:
        raise Conflict(f"a tag named {clean_name!r} already exists") from None
    return tag


async def update_tag(
    *, tag_id: str, name: Maybe[str] = UNSET, color: Maybe[str] = UNSET, actor: Principal
) -> TagRow:
    """Rename and/or recolor a tag."""
    can.ensure(actor, can.can_write_tags(actor), "change tags")
    uuid = parse_uuid(tag_id)
    updates: dict[str, str] = {}
    if is_set(name):
        if name is None:
            raise ValidationFailed(FieldError("name", "must not be null"))
        updates["name"] = validate_name(name)
    if is_set(color):
        if color is None:
            raise ValidationFailed(FieldError("color", "must not be null"))
        updates["color"] = validate_color(color)
    if uuid is None:
        raise NotFound(f"tag {tag_id} not found")
    async with sql.transaction() as conn:
        current = await sql.fetchrow("SELECT id, name, color FROM tags WHERE id = $1 FOR UPDATE", uuid)
        if current is None:
            raise NotFound(f"tag {tag_id} not found")
        changed = tuple(key for key, value in updates.items() if current[key] != value)
        if not changed:
            return _row(current)
        assignments = ", ".join(f"{key} = ${i + 2}" for i, key in enumerate(changed))
        try:
            record = await sql.fetchrow(
                f"UPDATE tags SET {assignments} WHERE id = $1 RETURNING id, name, color",  # noqa: S608 - keys from a fixed set
                uuid, *(updates[key] for key in changed),
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"a tag named {updates['name']!r} already exists") from None
        tag = _row(record)
        task_ids = await _task_ids_with_tag(uuid)
        await audit.record(conn, actor=actor, action=Action.UPDATE, entity=_ENTITY, entity_id=tag.id,
                     changes=diff(_values(_row(current)), _values(tag), changed))
        await emit(Change(Entity.TAG, ChangeKind.UPDATED, (tag.id,), changed))
        if task_ids:
            await emit(Change(Entity.TASK, ChangeKind.TAGS_CHANGED, task_ids, ("tags",)))
    return tag


async def _task_ids_with_tag(tag_id: UUID) -> tuple[str, ...]:
    return tuple(str(r["task_id"]) for r in await sql.fetch("SELECT task_id FROM task_tags WHERE tag_id = $1", tag_id))


async def delete_tag(*, tag_id: str, actor: Principal) -> bool:
    """Delete a tag (its task links go with it); False when it did not exist."""
    can.ensure(actor, can.can_write_tags(actor), "delete tags")
    uuid = parse_uuid(tag_id)
    if uuid is None:
        return False
    async with sql.transaction() as conn:
        task_ids = await _task_ids_with_tag(uuid)
        gone = await conn.fetchrow("DELETE FROM tags WHERE id = $1 RETURNING id, name, color", uuid)
        if gone is None:
            return False
        await audit.record(conn, actor=actor, action=Action.DELETE, entity=_ENTITY, entity_id=str(uuid),
                     changes=removed({**_values(_row(gone)), "task_ids": sorted(task_ids)}))
        await emit(Change(Entity.TAG, ChangeKind.DELETED, (str(uuid),)))
        if task_ids:
            await emit(Change(Entity.TASK, ChangeKind.TAGS_CHANGED, task_ids, ("tags",)))
    return True
