"""Domain change notices: services emit them after their writes commit; cache and events listen.

Services never talk to the cache or to pub/sub directly. Inside `transaction()` the notices wait for the
commit (a rolled-back write emits nothing); outside one they go out right after the write.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger("taskboard.changes")


class Entity(str, Enum):
    TASK = "task"
    TAG = "tag"
    USER = "user"


# The dimensions task lists are sliced by (Change.partitions of task writes; app/tasks/keys.py builds the
# pairs). Here because the users domain's task counts per user depend on the assignee slices too.
TASK_STATUS = "status"
TASK_ASSIGNEE = "assignee"
TASK_ROWS = ("rows", "any")  # the one slice every task row is in (not bumped by tag-link changes)
# Prefixes of a slice's other stamps: its members (rows entering or leaving it) and its tag links.
TASK_MEMBERS = "in."
TASK_LINKS = "tags."
TASK_TAGS_PART = "tags"  # the part of a task row its tag links are (Change.part; its entries: app/tags/keys.py)


class ChangeKind(str, Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    RESTORED = "RESTORED"
    TAGS_CHANGED = "TAGS_CHANGED"


@dataclass(frozen=True)
class Change:
    """Something that changed: the entity, how, which ids, which fields (empty = unknown/all).

    `ids=()` means "any number of rows of this entity" (seeding, data migrations, bulk clears):
    listeners must treat it as everything of that entity having changed.

    `partitions` names the slices of the entity's lists the rows were in before the write and are in
    after it, as (dimension, value) pairs (a task moved from TODO to COMPLETED: both statuses); the
    entity's keys.py says which dimensions exist and builds the pairs. None (the default) means unknown:
    listeners must treat every slice as touched. `()` says the write moved no row in or out of any slice
    and changed no row any list holds (e.g. a tag rename: the tasks' rows stay as they were).
    """

    entity: Entity
    kind: ChangeKind
    ids: tuple[str, ...]
    fields: tuple[str, ...] = ()
    # DELETED: the task's state just before the deletion (soft or hard), so subscribers get its last state
    # from here once it is gone, and can tell a live task's deletion (no deleted_at) from a purge.
    snapshot: dict[str, object] | None = field(default=None, compare=False)
    partitions: tuple[tuple[str, str], ...] | None = None
    # The write changed only this part of its rows (a task's tag links: "tags"): entries of the rows' parts
    # follow it, entries of the rows themselves stay.
    part: str = ""


Listener = Callable[[list[Change]], Awaitable[None]]

_listeners: list[Listener] = []
_pending: ContextVar[list[Change] | None] = ContextVar("taskboard_pending_changes", default=None)


def add_listener(listener: Listener) -> None:
    """Call listener(changes) after every committed write (cache invalidation, event publishing)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


async def dispatch(changes: list[Change]) -> None:
    """Hand committed changes to every listener; a failing listener is logged, never raised."""
    if not changes:
        return
    for listener in list(_listeners):
        try:
            await listener(changes)
        except Exception:  # noqa: BLE001 - the write already committed; listeners degrade on their own
            log.exception("change listener %r failed", listener)


async def emit(*changes: Change) -> None:
    """Record changes: held until commit inside a transaction, dispatched now otherwise."""
    pending = _pending.get()
    if pending is not None:
        pending.extend(changes)
    else:
        await dispatch(list(changes))


def begin_collecting() -> object:
    """Start holding changes (used by the transaction helper); returns a token for `end_collecting`."""
    return _pending.set([])


def end_collecting(token: object) -> list[Change]:
    """Stop holding changes and return the ones collected."""
    collected = _pending.get() or []
    _pending.reset(token)  # type: ignore[arg-type]
    return collected
