"""GraphQL inputs for tasks: filters, sort orders, create/update/upsert payloads, the taskChanged filter."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.common.errors import FieldError, ValidationFailed
from app.graphql.arguments import maybe
from app.tasks.events import TaskFilter
from app.tasks.queries import SortField, TaskFilters, TaskSort
from app.tasks.service import TaskUpsert
from app.tasks.types import PriorityType, TaskStatusType

SEARCH_MAX = 200
FILTER_LIST_MAX = 100


@strawberry.enum(name="TaskSort", description="Whitelisted task orders; ties are broken by id.")
class TaskSortEnum(Enum):
    CREATED_AT_DESC = "created_at:desc"
    CREATED_AT_ASC = "created_at:asc"
    UPDATED_AT_DESC = "updated_at:desc"
    UPDATED_AT_ASC = "updated_at:asc"
    DUE_DATE_ASC = "due_date:asc"
    DUE_DATE_DESC = "due_date:desc"
    PRIORITY_DESC = "priority:desc"
    PRIORITY_ASC = "priority:asc"
    TITLE_ASC = "title:asc"
    TITLE_DESC = "title:desc"

    def to_sort(self) -> TaskSort:
        field, direction = self.value.split(":")
        return TaskSort(SortField(field), descending=direction == "desc")


def _bounded(name: str, values: list | None) -> tuple:
    if values is None:
        return ()
    if len(values) > FILTER_LIST_MAX:
        raise ValidationFailed(FieldError(f"filter.{name}", f"at most {FILTER_LIST_MAX} values"))
    return tuple(values)


@strawberry.input(name="TaskFilter", description="Narrows a task list; every given condition must hold.")
class TaskFilterInput:
    status: list[TaskStatusType] | None = strawberry.field(default=None, description="Any of these statuses.")
    priority: list[PriorityType] | None = strawberry.field(default=None, description="Any of these priorities.")
    assignee_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Assigned to any of these users."
    )
    unassigned: bool = strawberry.field(
        default=False, description="Unassigned tasks (combined with assigneeIds: either condition)."
    )
    due_after: datetime | None = strawberry.field(default=None, description="Due at or after this instant.")
    due_before: datetime | None = strawberry.field(default=None, description="Due before this instant.")
    created_after: datetime | None = strawberry.field(default=None, description="Created at or after this instant.")
    created_before: datetime | None = strawberry.field(default=None, description="Created before this instant.")
    search: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of title or description; % and _ match themselves.",
    )
    tags_any: list[str] | None = strawberry.field(default=None, description="Carries any of these tag names.")
    tags_all: list[str] | None = strawberry.field(default=None, description="Carries all of these tag names.")

    def to_filters(self, *, include_deleted: bool) -> TaskFilters:
        """The service filters; rejects oversized lists and search strings."""
        if self.search is not None and len(self.search) > SEARCH_MAX:
            raise ValidationFailed(FieldError("filter.search", f"at most {SEARCH_MAX} characters"))
        return TaskFilters(
            statuses=_bounded("status", self.status),
            priorities=_bounded("priority", self.priority),
            assignee_ids=tuple(str(i).lower() for i in _bounded("assigneeIds", self.assignee_ids)),
            unassigned=self.unassigned,
            due_after=self.due_after,
            due_before=self.due_before,
            created_after=self.created_after,
            created_before=self.created_before,
            search=self.search or None,
            tags_any=_bounded("tagsAny", self.tags_any),
            tags_all=_bounded("tagsAll", self.tags_all),
            include_deleted=include_deleted,
        )


@strawberry.input(name="CreateTaskInput", description="A new task.")
class CreateTaskInput:
    title: str = strawberry.field(description="1 to 200 characters.")
    description: str | None = strawberry.field(default=None, description="At most 10,000 characters.")
    status: TaskStatusType = strawberry.field(default=TaskStatusType.TODO, description="Initial status.")
    priority: PriorityType = strawberry.field(default=PriorityType.MEDIUM, description="Importance.")
    due_date: datetime | None = strawberry.field(default=None, description="When it is due.")
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="An existing user's id.")
    tag_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="Existing tags' ids.")


@strawberry.input(name="UpdateTaskInput", description="Fields to change; omitted ones stay, null clears optional ones.")
class UpdateTaskInput:
    title: str | None = strawberry.field(default=strawberry.UNSET, description="New title (not null).")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="New description or null.")
    status: TaskStatusType | None = strawberry.field(default=strawberry.UNSET, description="New status (not null).")
    priority: PriorityType | None = strawberry.field(default=strawberry.UNSET, description="New priority (not null).")
    due_date: datetime | None = strawberry.field(default=strawberry.UNSET, description="New due date or null.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="New assignee or null to unassign."
    )

    def changes(self) -> dict[str, object]:
        """Keyword arguments for update_task (UNSET where not given)."""
        return {
            "title": maybe(self.title),
            "description": maybe(self.description),
            "status": maybe(self.status),
            "priority": maybe(self.priority),
            "due_date": maybe(self.due_date),
            "assignee_id": maybe(self.assignee_id),
        }


@strawberry.input(name="TaskUpsertInput", description="One bulkUpsertTasks item: created, or replaced when its id exists.")
class TaskUpsertInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="Id to create or replace; new id if null.")
    title: str = strawberry.field(description="1 to 200 characters.")
    description: str | None = strawberry.field(default=None, description="At most 10,000 characters.")
    status: TaskStatusType = strawberry.field(default=TaskStatusType.TODO, description="Status.")
    priority: PriorityType = strawberry.field(default=PriorityType.MEDIUM, description="Importance.")
    due_date: datetime | None = strawberry.field(default=None, description="When it is due.")
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="An existing user's id.")
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Replaces the task's tags; null leaves an existing task's tags alone."
    )

    def to_upsert(self) -> TaskUpsert:
        return TaskUpsert(
            id=self.id,
            title=self.title,
            description=self.description,
            status=self.status,
            priority=self.priority,
            due_date=self.due_date,
            assignee_id=self.assignee_id,
            tag_ids=self.tag_ids,
        )


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
