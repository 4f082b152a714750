"""Task change events: the TASK_EVENTS stream (one PUBLISH per committed task change, decoded into one
TaskEvent per task) and the subscriber-side filters the `taskChanged` subscription applies.

Filters: each given criterion must hold (AND); within one criterion any listed value matches (OR). Tag
names compare case-insensitively (tag names are unique that way). An empty or missing criterion does not
narrow. Filters see the task as it is after the change (for hard deletes: the event's snapshot).

Visibility comes before any filter: a subscriber who may not read soft-deleted tasks (a member) hears of a
task only while it is live, plus the one DELETED event that ended its life.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson

from app import events
from app.common.changes import Change, ChangeKind, Entity
from app.events.hub import Hub, Subscription
from app.tasks import keys

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class TaskEvent:
    """One task changed. task_id None: many tasks changed at once (seeding, data migrations): re-read."""

    kind: ChangeKind
    task_id: str | None
    fields: tuple[str, ...]
    snapshot: dict[str, Any] | None
    origin: str
    at: datetime


def encode_change(change: Change, *, origin: str, at: datetime) -> bytes:
    """The published payload of one task change."""
    return orjson.dumps(
        {
            "v": PAYLOAD_VERSION,
            "kind": change.kind.value,
            "ids": [str(task_id) for task_id in change.ids],
            "fields": list(change.fields),
            "snapshot": change.snapshot,
            "origin": origin,
            "at": int(at.timestamp() * 1000),
        },
        default=str,
    )


def decode_task_events(payload: bytes) -> list[TaskEvent]:
    """One TaskEvent per task id of a published change (one with task_id None when it named none)."""
    body = orjson.loads(payload)
    ids: list[str | None] = list(body["ids"]) or [None]
    snapshot = body.get("snapshot")
    common = {
        "kind": ChangeKind(body["kind"]),
        "fields": tuple(body.get("fields") or ()),
        "origin": body.get("origin", ""),
        "at": datetime.fromtimestamp(body["at"] / 1000, UTC),
    }
    return [TaskEvent(task_id=task_id, snapshot=_snapshot_of(snapshot, task_id, len(ids)), **common) for task_id in ids]


def _snapshot_of(snapshot: Any, task_id: str | None, count: int) -> dict[str, Any] | None:
    # A change about one task carries that task's snapshot; a multi-task one may key them by id.
    if not isinstance(snapshot, dict):
        return None
    if count == 1:
        return snapshot
    value = snapshot.get(task_id) if task_id is not None else None
    return value if isinstance(value, dict) else None


TASK_EVENTS: events.Stream[TaskEvent] = events.Stream(
    entity=Entity.TASK, channel=keys.task_events, encode=encode_change, decode=decode_task_events
)


def task_events(
    hub: Hub | None = None, *, on_arrival: events.ArrivalHook | None = None
) -> Subscription[TaskEvent]:
    """A subscription to task change events, one TaskEvent per changed task (use with `async with`)."""
    return events.subscribe(TASK_EVENTS, hub, on_arrival=on_arrival)


# --------------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class TaskFilter:
    task_ids: frozenset[str] | None = None
    assignee_ids: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    tag_names: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        *,
        task_ids: Iterable[object] | None = None,
        assignee_ids: Iterable[object] | None = None,
        statuses: Iterable[object] | None = None,
        tag_names: Iterable[str] | None = None,
    ) -> TaskFilter:
        """Build from resolver arguments (enums, UUIDs and str all fine)."""
        return cls(
            task_ids=_set(task_ids),
            assignee_ids=_set(assignee_ids),
            statuses=_set(statuses),
            tag_names=_set(tag_names, lower=True),
        )


def may_match(task_filter: TaskFilter, event: TaskEvent) -> bool:
    """Cheap check before loading the task: False only when the event cannot match."""
    if task_filter.task_ids is None or event.task_id is None:
        return True
    return event.task_id in task_filter.task_ids


def visible_without_deleted(event: TaskEvent, *, deleted_after: bool) -> bool:
    """Whether a subscriber who may not read soft-deleted tasks hears of this event.

    A DELETED event is news when the task was live before it (its snapshot, the state just before the
    deletion, has no `deleted_at`): a soft delete, or the hard delete of a live task. Purging a task that was
    already soft-deleted is not, and neither is any other change to a task that is deleted afterwards (an
    assignee unassigned by a user delete, a bulk upsert of its id, a tag renamed or deleted): whatever the
    writer, the task as loaded decides. Without a snapshot nothing says the task was live: not visible.
    """
    if event.kind is ChangeKind.DELETED:
        return event.snapshot is not None and event.snapshot.get("deleted_at") is None
    return not deleted_after


def matches(
    task_filter: TaskFilter,
    *,
    task_id: object,
    assignee_id: object | None,
    status: object,
    tag_names: Iterable[str] = (),
) -> bool:
    """Whether the (freshly loaded) task passes the filter."""
    if task_filter.task_ids is not None and _text(task_id) not in task_filter.task_ids:
        return False
    if task_filter.assignee_ids is not None and (
        assignee_id is None or _text(assignee_id) not in task_filter.assignee_ids
    ):
        return False
    if task_filter.statuses is not None and _text(status) not in task_filter.statuses:
        return False
    if task_filter.tag_names is not None and task_filter.tag_names.isdisjoint(name.lower() for name in tag_names):
        return False
    return True


def _text(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _set(values: Iterable[object] | None, *, lower: bool = False) -> frozenset[str] | None:
    if values is None:
        return None
    texts = frozenset(_text(value).lower() if lower else _text(value) for value in values)
    return texts or None
