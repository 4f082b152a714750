"""The relations the tasks domain serves (loader specs for the per-request registry) and cached task pages.

Batch functions read through the cache and return results in key order, one query per batch for whatever
the cache did not have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from app import cache
from app.cache.codec import typed
from app.common.pagination import CursorPage, OffsetPage, PageResult
from app.graphql.loaders import LoaderSpec, Loaders
from app.tags.public import TAGS_BY_TASK_ID
from app.tasks import keys, service
from app.tasks.assignments import task_counts_by_assignee
from app.tasks.queries import TaskFilters, TaskSort
from app.tasks.service import TaskRow
from app.users.public import USERS_BY_ID

_ROW = typed(TaskRow | None)
_ROWS = typed(list[TaskRow])
_PAGE_IDS = typed(PageResult[str])
_COUNT = typed(int)


async def task_by_id(ids: Sequence[str]) -> list[TaskRow | None]:
    """Tasks (soft-deleted included) by id."""
    return await cache.current().get_many(ids, keys.task, lambda missing: service.get_tasks_by_ids(ids=missing), _ROW)


async def tasks_by_assignee_id(ids: Sequence[str]) -> list[list[TaskRow]]:
    """Live tasks of each assignee, newest first."""
    return await cache.current().get_many(
        ids, keys.tasks_by_assignee, lambda missing: service.tasks_by_assignee_ids(ids=missing), _ROWS
    )


async def _counts(ids: Sequence[str]) -> list[int]:
    counts = await task_counts_by_assignee(user_ids=list(ids))
    return [counts[i].total if i in counts else 0 for i in ids]


async def task_count_by_assignee_id(ids: Sequence[str]) -> list[int]:
    """Number of live tasks of each assignee, from one grouped query."""
    return await cache.current().get_many(ids, lambda i: keys.tasks_by_assignee(i, "count"), _counts, _COUNT)


TASK_BY_ID: LoaderSpec[str, TaskRow | None] = LoaderSpec("task_by_id", task_by_id)
TASKS_BY_ASSIGNEE_ID: LoaderSpec[str, list[TaskRow]] = LoaderSpec("tasks_by_assignee_id", tasks_by_assignee_id)
TASK_COUNT_BY_ASSIGNEE_ID: LoaderSpec[str, int] = LoaderSpec("task_count_by_assignee_id", task_count_by_assignee_id)


async def task_page(
    loaders: Loaders,
    *,
    filters: TaskFilters,
    sort: TaskSort,
    page: OffsetPage | CursorPage,
    with_total: bool,
    with_tags: bool = False,
) -> PageResult[TaskRow]:
    """One page of tasks. The cache keeps the page's ids (per filters, sort, page and whether the total was
    asked for) and each row in its own entry: an update that moves no row in or out of the page and changes
    nothing it is filtered or sorted by refreshes the row and keeps the page.

    Rows come through TASK_BY_ID, which observes each row's stamp before reading it, also right after this
    request filled the page: the rows the page query read were not read under their stamps. A row deleted
    since the ids were read is left out. With the cache off, the page query's rows are the answer.
    `with_tags` loads the rows' tags in the same event-loop turn as the rows (their cache reads share one
    MGET, app.cache.same_turn); `prefetch_relations` then finds them loaded.
    """
    if not cache.current().active:
        return await service.find_tasks(filters=filters, sort=sort, page=page, with_total=with_total)

    async def load() -> PageResult[str]:
        found = await service.find_tasks(filters=filters, sort=sort, page=page, with_total=with_total)
        return replace(found, items=[row.id for row in found.items])

    key = keys.task_page({"filters": filters, "sort": sort, "page": page, "total": with_total}, filters, sort)
    ids = await cache.current().get(key, load, _PAGE_IDS)
    rows_loading = loaders.get(TASK_BY_ID).load_many(ids.items)
    if with_tags and ids.items:
        rows, _ = await asyncio.gather(
            rows_loading, loaders.get(TAGS_BY_TASK_ID).load_many(ids.items), return_exceptions=True
        )
        if isinstance(rows, BaseException):
            raise rows
        # A failed tags batch stays in its loader: each row's tags field answers it (prefetch_relations).
    else:
        rows = await rows_loading
    kept = [(row, cursor) for row, cursor in zip(rows, ids.cursors, strict=True) if _still_listed(row, filters)]
    if len(kept) == len(rows):
        return replace(ids, items=rows)  # type: ignore[arg-type]
    return replace(ids, items=[row for row, _ in kept], cursors=[cursor for _, cursor in kept])


def _still_listed(row: TaskRow | None, filters: TaskFilters) -> bool:
    if row is None:
        return False
    deleted = row.deleted_at is not None
    return filters.include_deleted or deleted == filters.only_deleted


async def prefetch_relations(loaders: Loaders, rows: Sequence[TaskRow], *, tags: bool, assignees: bool) -> None:
    """Load the page's tags and assignees in one batch each, before the rows' fields resolve."""
    work = []
    if tags and rows:
        work.append(loaders.get(TAGS_BY_TASK_ID).load_many([row.id for row in rows]))
    assignee_ids = list({row.assignee_id for row in rows if row.assignee_id is not None}) if assignees else []
    if assignee_ids:
        work.append(loaders.get(USERS_BY_ID).load_many(assignee_ids))
    if work:
        # A failed batch stays in its loader: each row's field then answers the error at its own path (the
        # assignees of a page while MongoDB is down) instead of the whole page failing here.
        await asyncio.gather(*work, return_exceptions=True)
