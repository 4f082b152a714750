"""Subscriber-side task filters (app.tasks.events): AND across criteria, OR within one, tag names case-insensitive."""

from __future__ import annotations

from datetime import UTC, datetime

from app.common.changes import ChangeKind
from app.tasks.events import TaskEvent, TaskFilter, matches, may_match, visible_without_deleted
from app.tasks.models import TaskStatus

TASK = {"task_id": "t1", "assignee_id": "u1", "status": TaskStatus.IN_PROGRESS, "tag_names": ["Urgent", "backend"]}


def event(task_id: str | None) -> TaskEvent:
    return TaskEvent(ChangeKind.UPDATED, task_id, ("status",), None, "origin", datetime.now(UTC))


def test_an_empty_filter_matches_everything() -> None:
    assert matches(TaskFilter.of(), **TASK)
    assert matches(TaskFilter.of(statuses=[], tag_names=[]), **TASK)


def test_each_criterion_narrows_and_all_must_hold() -> None:
    assert matches(TaskFilter.of(task_ids=["t1", "t2"]), **TASK)
    assert not matches(TaskFilter.of(task_ids=["t2"]), **TASK)
    assert matches(TaskFilter.of(assignee_ids=["u1"], statuses=[TaskStatus.IN_PROGRESS]), **TASK)
    assert not matches(TaskFilter.of(assignee_ids=["u1"], statuses=["COMPLETED"]), **TASK)
    assert not matches(TaskFilter.of(assignee_ids=["u1"]), **{**TASK, "assignee_id": None})


def test_tag_names_match_any_listed_tag_ignoring_case() -> None:
    assert matches(TaskFilter.of(tag_names=["URGENT", "frontend"]), **TASK)
    assert not matches(TaskFilter.of(tag_names=["frontend"]), **TASK)
    assert not matches(TaskFilter.of(tag_names=["urgent"]), **{**TASK, "tag_names": []})


def test_events_are_skipped_before_loading_only_when_their_task_cannot_match() -> None:
    by_id = TaskFilter.of(task_ids=["t1"])
    assert may_match(by_id, event("t1"))
    assert not may_match(by_id, event("t9"))
    assert may_match(by_id, event(None))  # "many tasks changed" may include it
    assert may_match(TaskFilter.of(statuses=["TODO"]), event("t9"))  # needs the loaded task


def kind_event(kind: ChangeKind, snapshot: dict | None = None) -> TaskEvent:
    return TaskEvent(kind, "t1", (), snapshot, "origin", datetime.now(UTC))


def test_without_deleted_rights_only_live_tasks_and_the_deletion_of_a_live_one_are_visible() -> None:
    for kind in (ChangeKind.CREATED, ChangeKind.UPDATED, ChangeKind.RESTORED, ChangeKind.TAGS_CHANGED):
        assert visible_without_deleted(kind_event(kind), deleted_after=False)
        assert not visible_without_deleted(kind_event(kind), deleted_after=True)
    live_before = {"id": "t1", "deleted_at": None}
    deleted_before = {"id": "t1", "deleted_at": "2026-01-01T00:00:00+00:00"}
    assert visible_without_deleted(kind_event(ChangeKind.DELETED, live_before), deleted_after=True)
    assert not visible_without_deleted(kind_event(ChangeKind.DELETED, deleted_before), deleted_after=True)
    # Nothing says the task was live: not visible
    assert not visible_without_deleted(kind_event(ChangeKind.DELETED, None), deleted_after=True)
