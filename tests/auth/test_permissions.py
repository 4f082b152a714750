"""The permission matrix as pure policy: every cell, allowed and denied."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.auth import permissions as can
from app.auth.principal import ANONYMOUS, Principal, Role, system
from app.common.errors import Forbidden, Unauthenticated

ALICE, BOB, CAROL = "a" * 24, "b" * 24, "c" * 24
ADMIN = Principal(user_id="d" * 24, role=Role.ADMIN)
MEMBER_ALICE = Principal(user_id=ALICE, role=Role.MEMBER)
MEMBER_BOB = Principal(user_id=BOB, role=Role.MEMBER)


@dataclass
class Task:
    creator_id: str | None
    assignee_id: str | None


ALICES_TASK = Task(creator_id=ALICE, assignee_id=None)
ASSIGNED_TO_BOB = Task(creator_id=CAROL, assignee_id=BOB)
LEGACY_TASK = Task(creator_id=None, assignee_id=None)


@pytest.mark.parametrize(
    ("principal", "task", "allowed"),
    [
        (ADMIN, LEGACY_TASK, True),
        (MEMBER_ALICE, ALICES_TASK, True),  # creator
        (MEMBER_BOB, ASSIGNED_TO_BOB, True),  # assignee
        (MEMBER_BOB, ALICES_TASK, False),
        (MEMBER_ALICE, ASSIGNED_TO_BOB, False),
        (MEMBER_ALICE, LEGACY_TASK, False),
        (ANONYMOUS, LEGACY_TASK, False),
    ],
)
def test_task_updates_belong_to_creator_assignee_and_admins(principal: Principal, task: Task, allowed: bool) -> None:
    assert can.can_update_task(principal, task) is allowed


@pytest.mark.parametrize(
    ("check", "member", "admin"),
    [
        (can.can_create_task, True, True),
        (can.can_hard_delete_task, False, True),
        (can.can_bulk_upsert_tasks, False, True),
        (can.can_write_tags, False, True),
        (can.can_manage_users, False, True),
        (can.can_read_audit_log, False, True),
        (can.can_read_deleted_tasks, False, True),
        (can.can_search_user_emails, False, True),
    ],
)
def test_role_only_rights(check, member: bool, admin: bool) -> None:
    assert check(MEMBER_ALICE) is member
    assert check(ADMIN) is admin
    assert check(ANONYMOUS) is False


def test_profile_settings_and_email_belong_to_the_user_and_admins() -> None:
    for check in (can.can_update_user, can.can_see_email):
        assert check(MEMBER_ALICE, ALICE) is True
        assert check(MEMBER_ALICE, BOB) is False
        assert check(ADMIN, BOB) is True
        assert check(ANONYMOUS, ALICE) is False


def test_reading_needs_a_token_only_when_auth_is_required() -> None:
    assert can.can_read(MEMBER_ALICE, auth_required=True)
    assert not can.can_read(ANONYMOUS, auth_required=True)
    assert can.can_read(ANONYMOUS, auth_required=False)


def test_denials_are_forbidden_for_users_and_unauthenticated_for_anonymous() -> None:
    can.ensure(MEMBER_ALICE, True, "do it")
    with pytest.raises(Forbidden):
        can.ensure(MEMBER_ALICE, False, "hard-delete tasks")
    with pytest.raises(Unauthenticated):
        can.ensure(ANONYMOUS, False, "create tasks")


def test_system_actors_act_as_admins_and_name_themselves() -> None:
    actor = system("data-migrate")
    assert actor.is_admin and actor.actor_id == "system:data-migrate"
    assert MEMBER_ALICE.actor_id == ALICE and ANONYMOUS.actor_id == "anonymous"


def test_rights_keys_separate_callers_who_see_different_data() -> None:
    other_admin = Principal(user_id="e" * 24, role=Role.ADMIN)
    assert ADMIN.rights_key() == other_admin.rights_key()
    assert MEMBER_ALICE.rights_key() != MEMBER_BOB.rights_key()
    assert MEMBER_ALICE.rights_key() != ADMIN.rights_key() != ANONYMOUS.rights_key()
