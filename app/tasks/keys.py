"""Cache keys and channel names for tasks (the only place they are built).

Task entries hold task rows and ids only, never user data: assignees come through the users cache,
so a user write never has to invalidate task pages. Pages also depend on the tag collection because
filters name tags (a renamed tag moves tasks in or out of a page).
"""

from __future__ import annotations

from app.cache.keys import CacheKey, collection, collection_stamp, row
from app.common.changes import Entity
from app.events.keys import channel


def task(task_id: str) -> CacheKey:
    """One task row (soft-deleted included), as `task_by_id` loads it."""
    return row(Entity.TASK, task_id)


def task_page(params: object) -> CacheKey:
    """One page of a task list: `params` is everything that shapes it (filters, sort, page, total)."""
    return collection(Entity.TASK, "page", params, also=(collection_stamp(Entity.TAG),))


def tasks_by_assignee(user_id: str, params: object = None) -> CacheKey:
    """The tasks (or their count, per `params`) of one assignee."""
    return collection(Entity.TASK, "by_assignee", {"user_id": user_id, "params": params})


def task_events(db: int) -> str:
    """The pub/sub channel of task change events for the Redis database `db`."""
    return channel(db, "task")
