"""`taskChanged`: task change events from every instance, filtered per subscriber, resolved through fresh loaders."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app import events
from app.auth import permissions as can
from app.auth.expiry import token_deadline
from app.auth.tokens import InvalidToken
from app.common.changes import ChangeKind
from app.common.errors import AppError, FieldError, ValidationFailed
from app.common.shared import SharedWork
from app.events.filters import TaskFilter, matches, may_match, visible_without_deleted
from app.events.tasks import TaskEvent
from app.tasks.models import Priority, TaskStatus
from app.graphql.context import Context, make_loaders
from app.graphql.shared_execution import SharedExecutions
from app.tags.service import TagRow
from app.tasks.service import TaskRow
from app.users.records import UserRecord
from app.tasks.types import TaskStatusType, TaskType

FILTER_LIST_MAX = 100


@strawberry.enum(name="TaskChangeKind", description="What happened to the task (or to the stream).")
class TaskChangeKindEnum(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    RESTORED = "RESTORED"
    TAGS_CHANGED = "TAGS_CHANGED"
    RESYNC = "RESYNC"


@strawberry.input(name="TaskChangeFilter", description="Which events to receive; every given condition must hold.")
class TaskChangeFilterInput:
    task_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Only these tasks.")
    assignee_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only tasks assigned (after the change) to one of these users."
    )
    status: list[TaskStatusType] | None = strawberry.field(
        default=None, description="Only tasks whose status (after the change) is one of these."
    )
    tag_names: list[str] | None = strawberry.field(
        default=None, description="Only tasks carrying (after the change) one of these tags."
    )

    def to_filter(self) -> TaskFilter:
        for name in ("task_ids", "assignee_ids", "status", "tag_names"):
            if len(getattr(self, name) or ()) > FILTER_LIST_MAX:
                raise ValidationFailed(FieldError(f"filter.{name}", f"at most {FILTER_LIST_MAX} values"))
        return TaskFilter.of(
            task_ids=self.task_ids,
            assignee_ids=[str(i).lower() for i in self.assignee_ids] if self.assignee_ids is not None else None,
            statuses=self.status,
            tag_names=self.tag_names,
        )


@dataclass(frozen=True)
class _TaskAfter:
    """What every subscriber needs to know about one event's task, loaded once per process."""

    row: TaskRow | None
    tags: list[TagRow]
    # The error when the assignee could not be read (MongoDB down): the event still goes out, with the
    # assignee answered as that error at its path.
    assignee: UserRecord | Exception | None
    tag_names: frozenset[str] = frozenset()


@strawberry.type(name="TaskChangeEvent", description="One change to one task, as committed.")
class TaskChangeEventType:
    kind: TaskChangeKindEnum = strawberry.field(description="What happened.")
    task: TaskType | None = strawberry.field(
        description="The task after the change (its last state for hard deletes); null for RESYNC."
    )
    changed_fields: list[str] = strawberry.field(description="GraphQL names of the fields that changed.")
    at: datetime = strawberry.field(description="When the change was published.")
    message: str | None = strawberry.field(
        default=None, description="For RESYNC: why events may have been missed; re-read what you show."
    )
    # Set on the one payload every local subscriber of an event shares (see app.graphql.shared_execution):
    # subscribers with the same document, variables and rights get one execution between them.
    shared_executions: strawberry.Private[SharedExecutions | None] = None
    after: strawberry.Private[_TaskAfter | None] = None

    def prepare(self, context: Context) -> None:
        """Fresh loaders for this event (never what the socket saw before), primed with the shared load."""
        after = self.after
        loaders = context.renew_loaders()
        if after is None or after.row is None:
            return
        row = after.row
        loaders.task_by_id.prime(row.id, row)
        loaders.tags_by_task_id.prime(row.id, after.tags)
        if row.assignee_id is None:
            return
        if isinstance(after.assignee, Exception):
            failed: asyncio.Future[UserRecord | None] = asyncio.get_running_loop().create_future()
            failed.set_exception(after.assignee)
            failed.exception()  # marks it retrieved: a subscriber that does not select the assignee never awaits it
            loaders.users_by_id.cache_map.set(row.assignee_id, failed)  # prime() only takes values
        else:
            loaders.users_by_id.prime(row.assignee_id, after.assignee)


class SubscriberDropped(AppError):
    code = "SUBSCRIBER_TOO_SLOW"


_FIELD_NAMES = {"due_date": "dueDate", "assignee_id": "assigneeId", "deleted_at": "deletedAt"}


def graphql_field_names(fields: tuple[str, ...]) -> list[str]:
    """Service field names as clients know them."""
    return [_FIELD_NAMES.get(name, name) for name in fields]


def row_from_snapshot(snapshot: dict[str, Any]) -> TaskRow:
    """A hard-deleted task's last state, rebuilt from its published snapshot."""

    def when(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    return TaskRow(
        id=str(snapshot["id"]),
        title=snapshot["title"],
        description=snapshot.get("description"),
        status=TaskStatus(snapshot["status"]),
        priority=Priority[snapshot["priority"]],
        due_date=when(snapshot.get("due_date")),
        assignee_id=snapshot.get("assignee_id"),
        created_at=when(snapshot["created_at"]),  # type: ignore[arg-type]
        updated_at=when(snapshot["updated_at"]),  # type: ignore[arg-type]
        deleted_at=when(snapshot.get("deleted_at")),
        creator_id=snapshot.get("creator_id"),
    )


# Recent events' shared payloads: one read per event (not one per subscriber), and one payload object
# that carries the executions its subscribers share.
_payload_by_event: OrderedDict[tuple, SharedWork[TaskChangeEventType | None]] = OrderedDict()
_SHARED_EVENTS = 256


async def _load_after(event: TaskEvent) -> _TaskAfter:
    loaders = make_loaders()
    row: TaskRow | None = await loaders.task_by_id.load(event.task_id)
    if row is None:
        if event.kind is not ChangeKind.DELETED or not event.snapshot:
            return _TaskAfter(None, [], None)  # gone again since: a later event will say so
        row = row_from_snapshot(event.snapshot)
    tags, assignee = await asyncio.gather(
        loaders.tags_by_task_id.load(row.id),
        loaders.users_by_id.load(row.assignee_id) if row.assignee_id else asyncio.sleep(0, None),
        return_exceptions=True,
    )
    if isinstance(tags, BaseException):
        raise tags
    if isinstance(assignee, BaseException) and not isinstance(assignee, Exception):
        raise assignee  # cancellation
    return _TaskAfter(row, tags, assignee, frozenset(tag.name for tag in tags))


async def _load_payload(event: TaskEvent) -> TaskChangeEventType | None:
    after = await _load_after(event)
    if after.row is None:
        return None
    return TaskChangeEventType(
        kind=TaskChangeKindEnum(event.kind.value),
        task=after.row,  # type: ignore[arg-type]
        changed_fields=graphql_field_names(event.fields),
        at=event.at,
        shared_executions=SharedExecutions(),
        after=after,
    )


def event_payload(event: TaskEvent) -> SharedWork[TaskChangeEventType | None]:
    """The shared payload of an event (loaded by its first subscriber); None when the task is gone."""
    key = (event.origin, event.at, event.task_id, event.kind, event.fields)
    shared = _payload_by_event.get(key)
    if shared is None:
        shared = _payload_by_event[key] = SharedWork(_load_payload(event))
        while len(_payload_by_event) > _SHARED_EVENTS:
            _payload_by_event.popitem(last=False)
    return shared


async def _resolve(event: TaskEvent, task_filter: TaskFilter, *, sees_deleted: bool) -> TaskChangeEventType | None:
    """The event as a subscriber sees it, or None when it may not see it or it does not pass the filter.

    Every subscriber shares one payload; what each may see is decided here, per subscriber, before anything
    is executed for it (executions are then shared only between subscribers with the same rights)."""
    payload = await event_payload(event).result()
    if payload is None or payload.after is None or payload.after.row is None:
        return None
    row = payload.after.row
    if not sees_deleted and not visible_without_deleted(event, deleted_after=row.deleted_at is not None):
        return None
    if not matches(task_filter, task_id=row.id, assignee_id=row.assignee_id, status=row.status,
                   tag_names=payload.after.tag_names):
        return None
    return payload


@strawberry.type
class TaskSubscription:
    @strawberry.subscription(description="Committed task changes from every instance, filtered as asked.")
    async def task_changed(
        self,
        info: Info,
        filter: Annotated[TaskChangeFilterInput | None, strawberry.argument(description="Conditions.")] = None,
    ) -> AsyncGenerator[TaskChangeEventType, None]:
        task_filter = (filter or TaskChangeFilterInput()).to_filter()
        sees_deleted = can.can_read_deleted_tasks(info.context.principal)
        # The stream ends with UNAUTHENTICATED (reason "expired") when the subscriber's token expires.
        deadline = token_deadline(info.context.principal, leeway_s=info.context.settings.jwt_leeway_s)
        async with events.task_events() as stream:
            if deadline is not None:
                stream.end_at(deadline, events.SubscriberNotice("EXPIRED", "token expired"))
            async for item in stream:
                if isinstance(item, events.SubscriberNotice):
                    if item.kind == "EXPIRED":
                        raise InvalidToken("token expired", reason="expired")
                    if item.kind == "DROPPED":
                        raise SubscriberDropped(item.message)
                    yield TaskChangeEventType(
                        kind=TaskChangeKindEnum.RESYNC, task=None, changed_fields=[], at=datetime.now().astimezone(),
                        message=f"{item.kind}: {item.message}",
                    )
                elif item.task_id is None:
                    yield TaskChangeEventType(
                        kind=TaskChangeKindEnum.RESYNC, task=None, changed_fields=[], at=item.at,
                        message="many tasks changed at once (seeding or a data migration)",
                    )
                elif may_match(task_filter, item):
                    resolved = await _resolve(item, task_filter, sees_deleted=sees_deleted)
                    if resolved is not None:
                        yield resolved
