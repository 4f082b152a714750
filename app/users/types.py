"""GraphQL types for users, their embedded profile, and per-user task statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.auth.permissions import can_see_email
from app.common import ports
from app.common.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.graphql.relay import Connection
from app.graphql.visibility import VisibleTo


@strawberry.type(name="Profile", description="The user's profile, embedded in the user document.")
class ProfileType:
    bio: str | None = strawberry.field(description="Free text, at most 500 characters.")
    timezone: str = strawberry.field(description="IANA time zone name, e.g. Europe/Paris.")
    settings: JSON = strawberry.field(description="Free-form JSON object of client settings.")


@strawberry.type(name="User", description="A person who can be assigned tasks (stored in MongoDB).")
class UserType:
    name: str | None = strawberry.field(description="Display name, at most 100 characters.")
    avatar: str | None = strawberry.field(description="http(s) URL of an avatar image.")
    created_at: datetime = strawberry.field(description="When the user was created.")
    updated_at: datetime = strawberry.field(description="When the user last changed.")

    @strawberry.field(description="Opaque id (a MongoDB ObjectId as 24 hex characters).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.id))  # type: ignore[attr-defined]

    # Shaped by its VisibleTo guard, after loaders and the cache: cached documents are the same for every caller,
    # and a subscription event executed once for many subscribers is masked per subscriber by the same rule.
    @strawberry.field(
        description="Lower-cased, unique email address; visible to the user and to admins only (null for others).",
        extensions=[VisibleTo(can_see_email, subject=lambda user: user.id)],
    )
    def email(self) -> str | None:
        return self.email  # type: ignore[attr-defined]

    profile: ProfileType = strawberry.field(
        description="The embedded profile (defaults for users created before profiles)."
    )

    @strawberry.field(
        description="Live tasks assigned to the user, newest first. For deeper paging or filters use "
        "`tasks(filter: {assigneeIds: [...]})`."
    )
    async def tasks(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=f"Page size, 0 to {MAX_PAGE_SIZE}.")] = DEFAULT_PAGE_SIZE,
    ) -> Annotated["TaskConnection", strawberry.lazy("app.tasks.types")]:  # noqa: F821 - the tasks domain's type
        # The users domain may not import tasks: the tasks domain serves this page through a port.
        return await ports.user_tasks(info, str(self.id), first)  # type: ignore[attr-defined]


@strawberry.type(name="UserStats", description="Task counts of one assignee (soft-deleted tasks excluded).")
class UserStatsType:
    user_id: strawberry.ID = strawberry.field(description="The assignee id.")
    user: UserType | None = strawberry.field(description="The user; null when the id names no user any more.")
    task_count: int = strawberry.field(description="Tasks assigned.")
    completed_count: int = strawberry.field(description="Tasks assigned and COMPLETED.")
    in_progress_count: int = strawberry.field(description="Tasks assigned and IN_PROGRESS.")


@strawberry.type(name="UserConnection", description="One page of users (Relay connection).")
class UserConnection(Connection[UserType]):
    pass
