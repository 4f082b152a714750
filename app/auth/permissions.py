"""The permission matrix, in one place: pure functions of the principal (and the row concerned).

Services call these before writing (a denial writes nothing); resolvers call the read ones when shaping
what a caller sees. The README's permission matrix is this module in prose; keep them in step.

| action                                   | member                              | admin |
|------------------------------------------|-------------------------------------|-------|
| read tasks, tags, users' public fields   | yes                                 | yes   |
| read soft-deleted tasks (includeDeleted) | no                                  | yes   |
| read a user's email                      | own only                            | yes   |
| search or sort users by email            | no                                  | yes   |
| create a task                            | yes (becomes its creator)           | yes   |
| update, soft-delete, restore, (un)tag    | tasks they created or are assigned  | yes   |
| hard-delete a task, bulk upsert          | no                                  | yes   |
| create, update, delete tags              | no                                  | yes   |
| create or delete users                   | no                                  | yes   |
| update a user, write their settings      | own only                            | yes   |
| read the audit log                       | no                                  | yes   |

Without a token (only possible with AUTH_REQUIRED=false) a caller reads like a member with no user id
and writes nothing.
"""

from __future__ import annotations

from typing import Protocol

from app.auth.principal import Principal
from app.common.errors import Forbidden, Unauthenticated


class OwnedTask(Protocol):
    creator_id: str | None
    assignee_id: str | None


def ensure(principal: Principal, allowed: bool, action: str) -> None:
    """Raise FORBIDDEN (UNAUTHENTICATED for callers without a token) unless allowed."""
    if allowed:
        return
    if not principal.is_authenticated:
        raise Unauthenticated(f"sign in to {action}")
    raise Forbidden(f"not allowed to {action}")


def can_read(principal: Principal, *, auth_required: bool) -> bool:
    """Any operation at all (besides apiVersion)."""
    return principal.is_authenticated or not auth_required


def can_read_deleted_tasks(principal: Principal) -> bool:
    return principal.is_admin


def can_see_email(principal: Principal, user_id: object) -> bool:
    """A user's email is visible to that user and to admins."""
    return principal.is_admin or (principal.user_id is not None and principal.user_id == str(user_id))


def can_search_user_emails(principal: Principal) -> bool:
    """Searching, sorting or looking users up by email would reveal emails (cursors carry the sort value)."""
    return principal.is_admin


def can_create_task(principal: Principal) -> bool:
    return principal.is_authenticated


def _owns(principal: Principal, task: OwnedTask) -> bool:
    return principal.user_id is not None and principal.user_id in (task.creator_id, task.assignee_id)


def can_update_task(principal: Principal, task: OwnedTask) -> bool:
    """Also covers soft delete, restore and tag links: the task's creator, its assignee, or an admin."""
    return principal.is_admin or (principal.is_authenticated and _owns(principal, task))


def can_hard_delete_task(principal: Principal) -> bool:
    return principal.is_admin


def can_bulk_upsert_tasks(principal: Principal) -> bool:
    return principal.is_admin


def can_write_tags(principal: Principal) -> bool:
    """Create, rename, recolor and delete tags: tags are shared by the whole team."""
    return principal.is_admin


def can_manage_users(principal: Principal) -> bool:
    """Create and delete users."""
    return principal.is_admin


def can_update_user(principal: Principal, user_id: object) -> bool:
    """Profile fields and settings: the user themself or an admin."""
    return principal.is_admin or (
        principal.is_authenticated and principal.user_id is not None and principal.user_id == str(user_id)
    )


def can_read_audit_log(principal: Principal) -> bool:
    return principal.is_admin
