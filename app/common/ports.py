"""Ports: what the users domain needs from the tasks domain, which it may not import.

Domains depend one way (tasks -> users: a task's assignee is read through the users domain's loader). Where
users needs task data (task counts per user, `User.tasks`, unassigning a deleted user's tasks), it calls a
port declared here, on neutral ground both sides import. The tasks domain implements it, and app.schema (the
one module that imports every domain) plugs the implementation in when it is imported. A port called before
that raises RuntimeError naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


class Port(Generic[T]):
    """A slot for one implementation, plugged by the composition root (app.schema)."""

    __slots__ = ("_impl", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._impl: T | None = None

    def plug(self, impl: T) -> None:
        """Use `impl` from now on."""
        self._impl = impl

    def get(self) -> T:
        """The plugged implementation; RuntimeError when none is."""
        if self._impl is None:
            raise RuntimeError(f"port {self.name!r} is not plugged in (app.schema plugs every port: import it first)")
        return self._impl


@dataclass(frozen=True)
class Counts:
    """Live (not soft-deleted) tasks of one assignee."""

    total: int = 0
    completed: int = 0
    in_progress: int = 0


class TaskAssignments(Protocol):
    """Task assignments as the users domain reads and clears them (implemented by app.tasks.assignments)."""

    async def task_counts_by_assignee(self, *, user_ids: Sequence[str] | None) -> dict[str, Counts]:
        """Live task counts per assignee (every assignee when user_ids is None)."""
        ...

    async def assignee_ids_with_tasks_created_between(self, *, start: datetime, end: datetime) -> list[str]:
        """Distinct assignees of live tasks created in [start, end), sorted."""
        ...

    async def unassign_user_tasks(self, *, user_id: str) -> list[str]:
        """Clear the assignee of every task assigned to user_id; the ids of those tasks."""
        ...


class UserTasks(Protocol):
    """`User.tasks`: the newest `first` live tasks of a user as a connection (implemented by app.tasks.resolvers)."""

    async def __call__(self, info: Any, user_id: str, first: int) -> Any: ...


TASK_ASSIGNMENTS: Port[TaskAssignments] = Port("task assignments")
USER_TASKS: Port[UserTasks] = Port("User.tasks")


async def task_counts_by_assignee(*, user_ids: Sequence[str] | None) -> dict[str, Counts]:
    """Live task counts per assignee, through TASK_ASSIGNMENTS."""
    return await TASK_ASSIGNMENTS.get().task_counts_by_assignee(user_ids=user_ids)


async def assignee_ids_with_tasks_created_between(*, start: datetime, end: datetime) -> list[str]:
    """Assignees of live tasks created in [start, end), through TASK_ASSIGNMENTS."""
    return await TASK_ASSIGNMENTS.get().assignee_ids_with_tasks_created_between(start=start, end=end)


async def unassign_user_tasks(*, user_id: str) -> list[str]:
    """Unassign a user's tasks, through TASK_ASSIGNMENTS."""
    return await TASK_ASSIGNMENTS.get().unassign_user_tasks(user_id=user_id)


async def user_tasks(info: Any, user_id: str, first: int) -> Any:
    """`User.tasks`, through USER_TASKS."""
    return await USER_TASKS.get()(info, user_id, first)
