"""Cache keys and channel names for tasks (the only place they are built).

Task entries hold task rows and ids only, never user data: assignees come through the users cache,
so a user write never has to invalidate task pages.

Task lists are sliced by status and by assignee, and one slice holds every row (app.cache.keys: partition
stamps). Each slice has stamps of three kinds, and a write names, for every row it changed, before and after:
- content `(<dimension>, value)`: bumped by every write of a row in the slice (`row_partitions`,
  `update_partitions`); entries that hold rows or counts (a user's tasks, task counts) depend on these;
- members `(in.<dimension>, value)`: bumped when a row enters or leaves the slice: a create, a soft delete
  or restore, a purge, a bulk upsert, an update of the slice's own field (status, assignee); search lists
  use the members stamps of text slices instead (`in.text:<bucket>`, see `_TEXT`), which only rows whose
  title or description contain the search's first three characters enter or leave;
- field `(f.<field>.<dimension>, value)`: bumped when an update changes that field of a row in the slice.
A task page holds ids only (the rows come from their own entries, `task`), so it depends on the members
stamps of the slices that cover it, the field stamps of the fields it filters or sorts by, and when filtered
by tag names the slices' tag-link stamps (`link_partitions`, bumped by a change of a task's tag links): a
priority change keeps every board that neither filters nor sorts by priority, and refreshes the row.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from functools import lru_cache

from app.cache.keys import CacheKey, KEYS_MEMO, collection, collection_stamp, over_partitions, row
from app.common.changes import TASK_ASSIGNEE, TASK_LINKS, TASK_MEMBERS, TASK_ROWS, TASK_STATUS, Entity
from app.common.ids import canonical_uuid
from app.events.keys import channel
from app.tasks.queries import SortField, TaskFilters, TaskSort

NO_ASSIGNEE = "-"  # the assignee slice of unassigned tasks (user ids are hex: no clash)
# The columns a list can filter or sort by that an update can change (created_at and id never change;
# updated_at is set by a trigger on every update).
_LIST_FIELDS = frozenset({"status", "priority", "assignee_id", "due_date", "title", "description", "updated_at"})
_SORTED_BY = {
    SortField.UPDATED_AT: "updated_at", SortField.DUE_DATE: "due_date", SortField.PRIORITY: "priority",
    SortField.TITLE: "title",
}
_COVER_FIELD = {TASK_STATUS: "status", TASK_ASSIGNEE: "assignee_id"}  # a slice dimension's own column

# Search lists are covered by the text they match: a row that contains the search string contains its
# first three characters, so a search of three or more characters depends on one bucket of three-character
# windows (`_TEXT`, `_text_buckets`) instead of every row. Lower-cased by Python's str.lower (Unicode's
# default mapping, which PostgreSQL's ILIKE also applies to characters that lower-case into the search's),
# and only for searches that are ASCII. A text longer than _TEXT_MAX is not split: it names the wildcard bucket,
# which every search list depends on.
_TEXT = "text"
_TEXT_BUCKETS = 256
_TEXT_MAX = 2_000
_ANY_TEXT = (_TEXT, "*")

# Lists filtered by tag names (and neither status nor assignee) are covered by those names: a task enters or
# leaves `in.tag:<name>` when it is created with, linked to or unlinked from a tag of that name. Writes that
# do not know the task's tags (soft deletes, restores, purges, bulk upserts) and tag names that are not
# ASCII (lower-casing could differ from PostgreSQL's LOWER) name the wildcard, which every such list follows.
_TAG = "tag"
_ANY_TAG = (_TAG, "*")

Partition = tuple[str, str]
# (status value, assignee id, title, description) of a task row: what decides the slices it is in
State = tuple[str, str | None, str, str | None]


def _slices(state: State) -> tuple[Partition, ...]:
    return (TASK_STATUS, state[0]), (TASK_ASSIGNEE, state[1] or NO_ASSIGNEE), TASK_ROWS


def _bucket(window: str) -> str:
    return str(zlib.crc32(window.encode()) % _TEXT_BUCKETS)


def _text_buckets(*texts: str | None) -> list[Partition]:
    """The text slices of these texts: one per bucket of their three-character windows, lower-cased."""
    buckets: set[str] = set()
    for text in texts:
        if not text:
            continue
        if len(text) > _TEXT_MAX:
            return [_ANY_TEXT]
        lowered = text.lower()
        buckets.update(_bucket(lowered[i : i + 3]) for i in range(len(lowered) - 2))
    return [(_TEXT, bucket) for bucket in sorted(buckets)]


def _tag_slices(names: Iterable[str] | None) -> list[Partition]:
    """The tag slices a task with these tag names is in (None: not known)."""
    if names is None:
        return [_ANY_TAG]
    slices = []
    for name in names:
        if not name.isascii():
            return [_ANY_TAG]
        slices.append((_TAG, name.lower()))
    return slices


def _tag_cover(filters: TaskFilters) -> list[Partition] | None:
    """The tag slices every task the filter's tag names match is in, or None when it needs every row."""
    names = [*filters.tags_any, *filters.tags_all]
    if not names or not all(name.isascii() for name in names):
        return None
    return [*dict.fromkeys((_TAG, name.lower()) for name in names), _ANY_TAG]


def _text_cover(search: str | None) -> list[Partition] | None:
    """The text slices every row matching the search is in, or None when it needs every row."""
    if search is None or len(search) < 3 or not search.isascii():
        return None
    return [(_TEXT, _bucket(search.lower()[:3])), _ANY_TEXT]


def _members(slices: Iterable[Partition]) -> list[Partition]:
    return [(TASK_MEMBERS + dimension, value) for dimension, value in slices]


def _fields(names: Iterable[str], slices: Iterable[Partition]) -> list[Partition]:
    pairs = list(slices)
    return [(f"f.{name}.{dimension}", value) for name in sorted(set(names)) for dimension, value in pairs]


def row_partitions(*states: State | None, tags: Iterable[str] | None = None) -> tuple[Partition, ...]:
    """The content and members stamps of these task states: a write that makes rows enter or leave their
    slices (or may have: a bulk upsert) names the states before and after it (None for a state that does
    not exist: before a create, after a delete), and the names of the rows' tags (None: not known). Every
    list that can hold such a row follows it."""
    present = [state for state in states if state is not None]
    slices = [pair for state in present for pair in _slices(state)]
    texts = _text_buckets(*(text for state in present for text in state[2:]))
    return tuple(dict.fromkeys([*slices, *_members([*slices, *texts, *_tag_slices(tags)])]))


def update_partitions(before: State, after: State, changed: Iterable[str]) -> tuple[Partition, ...]:
    """What an update of one row from `before` to `after` that changed the columns `changed` names: the
    content stamps of both states, the members stamps of the slices it moved between (the text slices of
    the old and the new text when it changed the title or description), and the field stamps of the list
    columns it changed (always updated_at) in every slice of both states."""
    old, new = _slices(before), _slices(after)
    moved = [pair for was, now in zip(old, new, strict=True) if was != now for pair in _members((was, now))]
    if {"title", "description"} & set(changed):
        moved += _members(_text_buckets(*before[2:], *after[2:]))
    fields = {name for name in changed if name in _LIST_FIELDS} | {"updated_at"}
    return tuple(dict.fromkeys([*old, *new, *moved, *_fields(fields, (*old, *new))]))


def link_partitions(*states: State, tags: Iterable[str] | None = None) -> tuple[Partition, ...]:
    """The slices in the tag dimensions of tasks whose tag links changed (their rows did not), and the
    members stamps of the tags linked or unlinked (by name; None: not known)."""
    pairs = [(TASK_LINKS + dimension, value) for state in states for dimension, value in _slices(state)]
    return tuple(dict.fromkeys([*pairs, *_members(_tag_slices(tags))]))


def _cover(filters: TaskFilters) -> list[Partition]:
    """Slices that hold every task the filters can match (in the content dimensions: the tag-link stamps
    of a list filtered by tags are these slices').

    The assignee dimension first: one assignee's slice gets far fewer writes than one status's. Without
    either, the slice of every row.
    """
    if filters.assignee_ids or filters.unassigned:
        values = [*filters.assignee_ids, *([NO_ASSIGNEE] if filters.unassigned else [])]
        return [(TASK_ASSIGNEE, value) for value in dict.fromkeys(values)]
    if filters.statuses:
        return [(TASK_STATUS, status.value) for status in dict.fromkeys(filters.statuses)]
    return [TASK_ROWS]


def _tested(filters: TaskFilters, sort: TaskSort | None) -> set[str]:
    """The changeable columns the filters test and the sort orders by."""
    tested = set()
    if filters.statuses:
        tested.add("status")
    if filters.priorities:
        tested.add("priority")
    if filters.assignee_ids or filters.unassigned:
        tested.add("assignee_id")
    if filters.due_after is not None or filters.due_before is not None:
        tested.add("due_date")
    if filters.search is not None:
        tested.update(("title", "description"))
    if sort is None:
        tested.add("updated_at")  # unknown order: any of them
        tested.update(_SORTED_BY.values())
    elif sort.field in _SORTED_BY:
        tested.add(_SORTED_BY[sort.field])
    return tested


def _list_stamps(filters: TaskFilters | None, sort: TaskSort | None) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(`over`, `also`) of a page of ids (app.cache.keys.collection)."""
    if filters is None:  # nothing known about what the list holds: the whole collection, and the tags
        return None, (collection_stamp(Entity.TAG),)
    by_tags = bool(filters.tags_any or filters.tags_all)
    cover = _cover(filters)
    # The members stamps say when the cover's own column moved a row in or out: no field stamp needed for it.
    fields = _tested(filters, sort) - {_COVER_FIELD.get(dimension) for dimension, _ in cover}
    links = [(TASK_LINKS + dimension, value) for dimension, value in cover] if by_tags else []
    also = (collection_stamp(Entity.TAG),) if by_tags else ()  # tag names decide which tasks match
    members = _members(cover)
    tagged = _tag_cover(filters) if cover == [TASK_ROWS] else None
    text = _text_cover(filters.search) if cover == [TASK_ROWS] and not by_tags else None
    if tagged is not None:  # tasks entering or leaving the named tags, instead of every row and link
        members, links = _members(tagged), []
    elif text is not None:  # rows entering or leaving what the search matches, instead of every row
        members = _members(text)
        fields -= {"title", "description"}
    return over_partitions(Entity.TASK, [*members, *_fields(fields, cover), *links]), also


@lru_cache(maxsize=KEYS_MEMO)
def task(task_id: str) -> CacheKey:
    """One task row (soft-deleted included), as `task_by_id` loads it (any spelling of its id)."""
    return row(Entity.TASK, canonical_uuid(task_id))


def task_page(params: object, filters: TaskFilters | None = None, sort: TaskSort | None = None) -> CacheKey:
    """The ids of one page of a task list: `params` is everything that shapes it (filters, sort, page,
    total). With `filters` and `sort` (the ones in `params`) it depends only on the rows entering or leaving
    the slices they narrow to and on changes of the columns they test; without, on everything."""
    over, also = _list_stamps(filters, sort)
    return collection(Entity.TASK, "page_ids", params, over=over, also=also)


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
