"""Cache keys and channel names for tasks (the only place they are built).

Task entries hold task rows and ids only, never user data: assignees come through the users cache,
so a user write never has to invalidate task pages.

Task lists are sliced by status and by assignee, and one slice holds every row (app.cache.keys: partition
stamps). A write names the
slices of every row it changed, before and after (`row_partitions`), so a list depends only on the slices
that can hold its rows: a board of one status or one assignee survives writes elsewhere. A change of a
task's tag links names the task's slices in the tag dimensions (`link_partitions`): only lists filtered
by tag names depend on those, since no other list holds anything a tag link decides.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.cache.keys import CacheKey, collection, collection_stamp, over_partitions, row
from app.common.changes import TASK_ASSIGNEE, TASK_ROWS, TASK_STATUS, Entity
from app.common.ids import canonical_uuid
from app.events.keys import channel
from app.tasks.queries import TaskFilters

NO_ASSIGNEE = "-"  # the assignee slice of unassigned tasks (user ids are hex: no clash)
_LINKS = "tags."  # the tag-link dimensions: "tags.status", "tags.assignee"

Partition = tuple[str, str]


def _slices(status: str, assignee_id: str | None) -> tuple[Partition, ...]:
    return (TASK_STATUS, status), (TASK_ASSIGNEE, assignee_id or NO_ASSIGNEE), TASK_ROWS


def row_partitions(*states: tuple[str, str | None] | None) -> tuple[Partition, ...]:
    """The slices of these task states, each a (status value, assignee id) pair: a write names the states of
    its rows before and after it (None for a state that does not exist: before a create, after a delete)."""
    pairs = (pair for state in states if state is not None for pair in _slices(*state))
    return tuple(dict.fromkeys(pairs))


def link_partitions(*states: tuple[str, str | None]) -> tuple[Partition, ...]:
    """The slices in the tag dimensions of tasks whose tag links changed (their rows did not)."""
    pairs = ((_LINKS + dimension, value) for state in states for dimension, value in _slices(*state))
    return tuple(dict.fromkeys(pairs))


def _cover(filters: TaskFilters) -> list[Partition]:
    """Slices that hold every task the filters can match.

    The assignee dimension first: one assignee's slice gets far fewer writes than one status's. Without
    either, the slice of every row: any row write bumps it, a change of tag links (which such a list does
    not show unless it filters by tags) does not.
    """
    if filters.assignee_ids or filters.unassigned:
        values = [*filters.assignee_ids, *([NO_ASSIGNEE] if filters.unassigned else [])]
        return [(TASK_ASSIGNEE, value) for value in dict.fromkeys(values)]
    if filters.statuses:
        return [(TASK_STATUS, status.value) for status in dict.fromkeys(filters.statuses)]
    return [TASK_ROWS]


def _list_stamps(filters: TaskFilters | None) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(`over`, `also`) of a list entry (app.cache.keys.collection)."""
    if filters is None:  # nothing known about what the list holds: the whole collection, and the tags
        return None, (collection_stamp(Entity.TAG),)
    by_tags = bool(filters.tags_any or filters.tags_all)
    cover = _cover(filters)
    links = [(_LINKS + dimension, value) for dimension, value in cover] if by_tags else []
    also = (collection_stamp(Entity.TAG),) if by_tags else ()  # tag names decide which tasks match
    return over_partitions(Entity.TASK, [*cover, *links]), also


def task(task_id: str) -> CacheKey:
    """One task row (soft-deleted included), as `task_by_id` loads it (any spelling of its id)."""
    return row(Entity.TASK, canonical_uuid(task_id))


def task_page(params: object, filters: TaskFilters | None = None) -> CacheKey:
    """One page of a task list: `params` is everything that shapes it (filters, sort, page, total). With
    `filters` (the ones in `params`) it depends only on the slices they narrow to; without, on everything."""
    over, also = _list_stamps(filters)
    return collection(Entity.TASK, "page", params, over=over, also=also)


def assignee_slices(user_ids: Iterable[str]) -> tuple[str, ...]:
    """The stamps of entries about the tasks of these assignees only."""
    return over_partitions(Entity.TASK, [(TASK_ASSIGNEE, user_id) for user_id in user_ids])


def tasks_by_assignee(user_id: str, params: object = None) -> CacheKey:
    """The tasks (or their count, per `params`) of one assignee: its slice only."""
    return collection(
        Entity.TASK, "by_assignee", {"user_id": user_id, "params": params}, over=assignee_slices([user_id])
    )


def task_events(db: int) -> str:
    """The pub/sub channel of task change events for the Redis database `db`."""
    return channel(db, "task")
