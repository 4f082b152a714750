"""`taskChanged`: task change events from every instance, filtered per subscriber, resolved through fresh loaders."""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app import events
from app.auth import permissions as can
from app.auth.expiry import token_deadline
from app.auth.tokens import InvalidToken
from app.common.changes import ChangeKind
from app.common.errors import AppError
from app.common.shared import SharedWork
from app.graphql.direct_delivery import current_sink
from app.graphql.loaders import Loaders
from app.graphql.shared_execution import SharedExecutions
from app.graphql.tracing import untraced
from app.tags.public import TAGS_BY_TASK_ID
from app.tasks.events import TaskEvent, TaskFilter, matches, may_match, task_events, visible_without_deleted
from app.tasks.inputs import TaskChangeFilterInput
from app.tasks.loaders import TASK_BY_ID
from app.tasks.models import Priority, TaskStatus
from app.tasks.service import TaskRow
from app.tasks.types import TaskAfter, TaskChangeEventType, TaskChangeKindEnum


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


async def _load_after(event: TaskEvent) -> TaskAfter:
    loaders = Loaders()
    row: TaskRow | None = await loaders.get(TASK_BY_ID).load(event.task_id)
    if row is None:
        if event.kind is not ChangeKind.DELETED or not event.snapshot:
            return TaskAfter(None, [])  # gone again since: a later event will say so
        row = row_from_snapshot(event.snapshot)
    # The assignee is not loaded here: an execution that selects it loads it through its own loaders (one
    # load per shared execution), and one that does not never waits for MongoDB.
    tags = await loaders.get(TAGS_BY_TASK_ID).load(row.id)
    return TaskAfter(row, tags, frozenset(tag.name for tag in tags))


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


def load_on_arrival(items: Iterable[TaskEvent]) -> Awaitable[object] | None:
    """Start loading each event's shared payload when the process receives it; the hub hands the events to
    the subscribers once the loads are done (app.events.hub), so each subscriber wakes once, to a payload
    that is ready, instead of a thousand waking to wait for it."""
    with untraced():  # events are not traced (README: Traces): the load's driver calls must not start spans
        loads = [event_payload(item) for item in items if item.task_id is not None]
    if not loads:
        return None
    return _settled(loads)


async def _settled(loads: list[SharedWork[TaskChangeEventType | None]]) -> None:
    """Done when every load is (their errors are each subscriber's to meet)."""
    for load in loads:
        if not load.done():
            with contextlib.suppress(Exception):
                await load.result()


async def _resolve(event: TaskEvent, task_filter: TaskFilter, *, sees_deleted: bool) -> TaskChangeEventType | None:
    """The event as a subscriber sees it, or None when it may not see it or it does not pass the filter.

    Every subscriber shares one payload; what each may see is decided here, per subscriber, before anything
    is executed for it (executions are then shared only between subscribers with the same rights)."""
    return _as_seen(await event_payload(event).result(), event, task_filter, sees_deleted=sees_deleted)


def _as_seen(
    payload: TaskChangeEventType | None, event: TaskEvent, task_filter: TaskFilter, *, sees_deleted: bool
) -> TaskChangeEventType | None:
    if payload is None or payload.after is None or payload.after.row is None:
        return None
    row = payload.after.row
    if not sees_deleted and not visible_without_deleted(event, deleted_after=row.deleted_at is not None):
        return None
    if not matches(task_filter, task_id=row.id, assignee_id=row.assignee_id, status=row.status,
                   tag_names=payload.after.tag_names):
        return None
    return payload


def _inline_step(
    deliver_now: Callable[[Any], bool], task_filter: TaskFilter, *, sees_deleted: bool
) -> events.InlineStep:
    """What the loop below does with an event, for the events hub to do at arrival (app.events.hub,
    `Subscription.inline`) when nothing has to wait: the payload loaded, the result shared and written
    (app.graphql.direct_delivery). Notices, many-task events and anything that would wait go the loop's way."""

    def step(item: Any) -> bool:
        if isinstance(item, events.SubscriberNotice) or item.task_id is None:
            return False
        if not may_match(task_filter, item):
            return True  # nothing for this subscriber, as below
        load = event_payload(item)
        if not load.done() or load.failed():
            return False
        resolved = _as_seen(load.outcome(), item, task_filter, sees_deleted=sees_deleted)
        return resolved is None or deliver_now(resolved)

    # The subscriber's own context: what runs inline reads what its task would.
    return functools.partial(contextvars.copy_context().run, step)


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
        async with task_events(on_arrival=load_on_arrival) as stream:
            sink = current_sink()
            if sink is not None and sink.deliver_now is not None:
                stream.inline = _inline_step(sink.deliver_now, task_filter, sees_deleted=sees_deleted)
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
