"""GraphQL types for tasks: the enums, the Task object (resolved straight from service rows), its connection."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.graphql.relay import Connection, value_or_future
from app.tags.types import TagType
from app.tasks.models import Priority, TaskStatus
from app.users.types import UserType

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
        return value_or_future(info.context.loaders.tags_by_task_id.load(self.id))  # type: ignore[return-value]

    @strawberry.field(description="The assigned user; null when unassigned or the user no longer exists.")
    def assignee(self, info: Info) -> UserType | None:
        if self.assignee_id is None:
            return None
        return value_or_future(info.context.loaders.users_by_id.load(self.assignee_id))  # type: ignore[return-value]


@strawberry.type(name="TaskConnection", description="One page of tasks (Relay connection).")
class TaskConnection(Connection[TaskType]):
    pass


@strawberry.type(name="BulkUpsertResult", description="Outcome of bulkUpsertTasks.")
class BulkUpsertResultType:
    created_ids: list[strawberry.ID] = strawberry.field(description="Ids of the tasks that were created.")
    updated_ids: list[strawberry.ID] = strawberry.field(description="Ids of the tasks that were replaced.")
    tasks: list[TaskType] = strawberry.field(description="Every task of the call, in input order.")
