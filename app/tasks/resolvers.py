"""Task queries and mutations, and `User.tasks` (served to the users domain through app.common.ports):
parse input, call the service or a loader, return rows (types resolve from them)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.auth import permissions as can
from app.common.errors import FieldError, NotFound, ValidationFailed
from app.common.pagination import MAX_PAGE_SIZE, PageResult
from app.graphql.arguments import After, Before, First, IdArg, Last, Limit, PageNumber
from app.graphql.relay import ConnectionView, node_selects, page_from_args, selects
from app.tags.public import TAGS_BY_TASK_ID
from app.tasks import loaders, service
from app.tasks.inputs import CreateTaskInput, TaskFilterInput, TaskSortEnum, TaskUpsertInput, UpdateTaskInput
from app.tasks.loaders import TASK_BY_ID, TASK_COUNT_BY_ASSIGNEE_ID, TASKS_BY_ASSIGNEE_ID
from app.tasks.queries import TaskSort
from app.tasks.service import TaskRow
from app.tasks.types import BulkUpsertResultType, TaskConnection, TaskType

IncludeDeleted = Annotated[bool, strawberry.argument(description="Also return soft-deleted tasks.")]
TagIds = Annotated[list[strawberry.ID], strawberry.argument(description="Ids of existing tags.")]


def _ensure_may_read_deleted(info: Info, include_deleted: bool) -> None:
    if include_deleted:
        principal = info.context.principal
        can.ensure(principal, can.can_read_deleted_tasks(principal), "read soft-deleted tasks")


@strawberry.type
class TaskQuery:
    @strawberry.field(description="A task by id; null when it does not exist (or is soft-deleted).")
    async def task(self, info: Info, id: IdArg, include_deleted: IncludeDeleted = False) -> TaskType | None:
        _ensure_may_read_deleted(info, include_deleted)
        row: TaskRow | None = await info.context.loaders.get(TASK_BY_ID).load(id)
        if row is None or (row.deleted_at is not None and not include_deleted):
            return None
        return row  # type: ignore[return-value]

    @strawberry.field(description="Tasks matching a filter, in a whitelisted order, one page at a time.")
    async def tasks(
        self,
        info: Info,
        filter: Annotated[TaskFilterInput | None, strawberry.argument(description="Conditions.")] = None,
        sort: Annotated[TaskSortEnum, strawberry.argument(description="Order.")] = TaskSortEnum.CREATED_AT_DESC,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        page: PageNumber = None,
        limit: Limit = None,
        include_deleted: IncludeDeleted = False,
    ) -> TaskConnection:
        _ensure_may_read_deleted(info, include_deleted)
        filters = (filter or TaskFilterInput()).to_filters(include_deleted=include_deleted)
        result = await loaders.task_page(
            info.context.loaders,
            filters=filters,
            sort=sort.to_sort(),
            page=page_from_args(first=first, after=after, last=last, before=before, page=page, limit=limit),
            with_total=selects(info, "totalCount"),
            with_tags=(tags := node_selects(info, "tags")),
        )
        await loaders.prefetch_relations(
            info.context.loaders, result.items, tags=tags, assignees=node_selects(info, "assignee")
        )
        return ConnectionView(result)  # type: ignore[return-value]


@strawberry.type
class TaskMutation:
    @strawberry.mutation(description="Create a task, with its tags, in one transaction.")
    async def create_task(
        self, info: Info, input: Annotated[CreateTaskInput, strawberry.argument(description="The new task.")]
    ) -> TaskType:
        task, tags = await service.create_task_with_tags(
            actor=info.context.principal,
            title=input.title,
            description=input.description,
            status=input.status,
            priority=input.priority,
            due_date=input.due_date,
            assignee_id=input.assignee_id,
            tag_ids=input.tag_ids,
        )
        # Its tags are known from the write: `tags { ... }` in the answer reads neither Redis nor PostgreSQL.
        info.context.loaders.get(TAGS_BY_TASK_ID).prime(task.id, tags)
        return task  # type: ignore[return-value]

    @strawberry.mutation(description="Change some fields of a live task.")
    async def update_task(
        self,
        info: Info,
        id: IdArg,
        input: Annotated[UpdateTaskInput, strawberry.argument(description="Fields to change.")],
    ) -> TaskType:
        return await service.update_task(  # type: ignore[return-value]
            task_id=id, actor=info.context.principal, **input.changes()
        )

    @strawberry.mutation(description="Soft-delete a task: it disappears from lists until restored.")
    async def delete_task(self, info: Info, id: IdArg) -> TaskType:
        return await service.soft_delete_task(task_id=id, actor=info.context.principal)  # type: ignore[return-value]

    @strawberry.mutation(description="Restore a soft-deleted task.")
    async def restore_task(self, info: Info, id: IdArg) -> TaskType:
        return await service.restore_task(task_id=id, actor=info.context.principal)  # type: ignore[return-value]

    @strawberry.mutation(description="Delete a task for good (with its tag links); returns its last state.")
    async def hard_delete_task(self, info: Info, id: IdArg) -> TaskType:
        row = await service.delete_task(task_id=id, actor=info.context.principal)
        if row is None:
            raise NotFound(f"task {id} not found")
        return row  # type: ignore[return-value]

    @strawberry.mutation(description="Add tags to a task; tags it already carries are ignored.")
    async def add_task_tags(self, info: Info, task_id: IdArg, tag_ids: TagIds) -> TaskType:
        return await service.add_tags(  # type: ignore[return-value]
            task_id=task_id, tag_ids=tag_ids, actor=info.context.principal
        )

    @strawberry.mutation(description="Remove tags from a task; tags it does not carry are ignored.")
    async def remove_task_tags(self, info: Info, task_id: IdArg, tag_ids: TagIds) -> TaskType:
        return await service.remove_tags(  # type: ignore[return-value]
            task_id=task_id, tag_ids=tag_ids, actor=info.context.principal
        )

    @strawberry.mutation(description="Create or replace up to 1,000 tasks in one transaction.")
    async def bulk_upsert_tasks(
        self, info: Info, items: Annotated[list[TaskUpsertInput], strawberry.argument(description="Tasks to write.")]
    ) -> BulkUpsertResultType:
        return await service.bulk_upsert_tasks(  # type: ignore[return-value]
            items=[item.to_upsert() for item in items], actor=info.context.principal
        )


async def assigned_tasks_page(info: Info, user_id: str, first: int) -> ConnectionView:
    """`User.tasks`: the newest `first` live tasks of a user, with the exact total when selected (batched
    loaders, so a list of users costs a fixed number of queries)."""
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise ValidationFailed(FieldError("first", f"must be between 0 and {MAX_PAGE_SIZE}"))
    registry = info.context.loaders
    want_total = selects(info, "totalCount")
    rows, total = await asyncio.gather(
        registry.get(TASKS_BY_ASSIGNEE_ID).load(user_id),
        registry.get(TASK_COUNT_BY_ASSIGNEE_ID).load(user_id) if want_total else asyncio.sleep(0, None),
    )
    page = rows[:first]
    cursors = TaskSort().cursors  # newest first, as tasks_by_assignee_id orders them
    return ConnectionView(
        PageResult(
            items=page,
            cursors=[cursors.encode(r.created_at, r.id) for r in page],
            has_next_page=len(rows) > first,
            has_previous_page=False,
            total_count=total,
        )
    )
