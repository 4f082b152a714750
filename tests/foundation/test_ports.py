"""Ports (app.common.ports): app.schema plugs every one; an unplugged one says so instead of failing obscurely."""

from __future__ import annotations

import pytest

import app.schema  # noqa: F401 - plugs the ports
from app.common import ports
from app.tasks import assignments
from app.tasks.resolvers import assigned_tasks_page


def test_every_declared_port_is_plugged_by_app_schema() -> None:
    declared = {name: value for name, value in vars(ports).items() if isinstance(value, ports.Port)}
    assert declared, "app.common.ports declares no port"
    unplugged = [name for name, port in declared.items() if port._impl is None]
    assert not unplugged, f"app.schema plugs no implementation into {unplugged}"
    assert ports.TASK_ASSIGNMENTS.get() is assignments
    assert ports.USER_TASKS.get() is assigned_tasks_page


def test_the_tasks_domain_implements_what_the_port_declares() -> None:
    for method in ("task_counts_by_assignee", "assignee_ids_with_tasks_created_between", "unassign_user_tasks"):
        assert callable(getattr(assignments, method, None)), f"app.tasks.assignments has no {method}()"


def test_an_unplugged_port_names_itself() -> None:
    with pytest.raises(RuntimeError, match="port 'spare' is not plugged in"):
        ports.Port[object]("spare").get()
