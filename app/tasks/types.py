"""GraphQL types for tasks: the enums, the Task object (resolved straight from service rows), its connection,
and the `taskChanged` event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from app.graphql.context import Context
from app.graphql.relay import Connection, value_or_future
from app.graphql.shared_execution import SharedExecutions
from app.tags.public import TAGS_BY_TASK_ID, TagRow, TagType
from app.tasks.loaders import TASK_BY_ID
from app.tasks.models import Priority, TaskStatus
from app.tasks.service import TaskRow
from app.users.public import USERS_BY_ID, UserType

TaskStatusType = strawberry.enum(TaskStatus, name="TaskStatus", description="Where a task stands.")
PriorityType = strawberry.enum(Priority, name="Priority", description="How important a task is; sorts by rank.")


@strawberry.type(name="Task", description="A unit of work (stored in PostgreSQL).")
class TaskType:
    id: strawberry.ID = strawberry.field(description="Opaque, time-ordered id (UUIDv7).")
    title: str = strawberry.field(description="1 to 200 characters, trimmed.")
    description: str | None = strawberry.field(description="Longer text, at most 10,000 characters.")
    status: TaskStatusType = strawberry.field(description="Workflow state.")
    priority: PriorityType = strawberry.field(description="Importance.")
    due_date: datetime | None = strawberry.field(description="When the task is due (UTC).")
    assignee_id: strawberry.ID | None = strawberry.field(description="Id of the assigned user, if any.")
    creator_id: strawberry.ID | None = strawberry.field(
        description="Id of the user who created the task; null for tasks created by imports, seeding or the system."
    )
    created_at: datetime = strawberry.field(description="When the task was created.")
    updated_at: datetime = strawberry.field(description="When the task last changed (set by the database).")
    deleted_at: datetime | None = strawberry.field(description="When the task was soft-deleted; null if live.")

    # Sync resolvers returning the loader's value when a list resolver already loaded the page's batch
    # (see app.tasks.loaders.prefetch_relations), or its future otherwise: no coroutine per row.
    @strawberry.field(description="Tags on the task, by name.")
    def tags(self, info: Info) -> list[TagType]:
        return value_or_future(info.context.loaders.get(TAGS_BY_TASK_ID).load(self.id))  # type: ignore[return-value]

    @strawberry.field(description="The assigned user; null when unassigned or the user no longer exists.")
    def assignee(self, info: Info) -> UserType | None:
        if self.assignee_id is None:
            return None
        # The users domain's loader (app.users.loaders.USERS_BY_ID): one batch for every assignee of the page.
        return value_or_future(info.context.loaders.get(USERS_BY_ID).load(self.assignee_id))  # type: ignore[return-value]


@strawberry.type(name="TaskConnection", description="One page of tasks (Relay connection).")
class TaskConnection(Connection[TaskType]):
    pass


@strawberry.type(name="BulkUpsertResult", description="Outcome of bulkUpsertTasks.")
class BulkUpsertResultType:
    created_ids: list[strawberry.ID] = strawberry.field(description="Ids of the tasks that were created.")
    updated_ids: list[strawberry.ID] = strawberry.field(description="Ids of the tasks that were replaced.")
    tasks: list[TaskType] = strawberry.field(description="Every task of the call, in input order.")


@strawberry.enum(name="TaskChangeKind", description="What happened to the task (or to the stream).")
class TaskChangeKindEnum(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    RESTORED = "RESTORED"
    TAGS_CHANGED = "TAGS_CHANGED"
    RESYNC = "RESYNC"


@dataclass(frozen=True)
class TaskAfter:
    """What every subscriber needs to know about one event's task, loaded once per process."""

    row: TaskRow | None
    tags: list[TagRow]
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
    after: strawberry.Private[TaskAfter | None] = None

    def prepare(self, context: Context) -> None:
        """Fresh loaders for this event (never what the socket saw before), primed with the shared load."""
        after = self.after
        loaders = context.renew_loaders()
        if after is None or after.row is None:
            return
        row = after.row
        loaders.get(TASK_BY_ID).prime(row.id, row)
        loaders.get(TAGS_BY_TASK_ID).prime(row.id, after.tags)
