"""Tortoise model for tasks (table `tasks`; its tag links live in `task_tags`)."""

from __future__ import annotations

from enum import Enum, IntEnum

from tortoise import fields
from tortoise.fields.db_defaults import Now
from tortoise.models import Model

from app.common.ids import uuid7

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000


class TaskStatus(str, Enum):
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class Priority(IntEnum):
    """Stored as its rank so that sorting by priority is sorting by importance."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


class Task(Model):
    id = fields.UUIDField(primary_key=True, default=uuid7)
    title = fields.CharField(max_length=TITLE_MAX)
    description = fields.TextField(null=True)
    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.TODO, db_default="TODO")
    priority = fields.IntEnumField(Priority, default=Priority.MEDIUM, db_default=2)
    due_date = fields.DatetimeField(null=True)
    assignee_id = fields.CharField(max_length=24, null=True)
    # The user who created the task (null for tasks from before access control, seeding or bulk imports).
    creator_id = fields.CharField(max_length=24, null=True)
    created_at = fields.DatetimeField(db_default=Now())
    updated_at = fields.DatetimeField(db_default=Now())
    deleted_at = fields.DatetimeField(null=True)

    tags: fields.ManyToManyRelation = fields.ManyToManyField(
        "models.Tag",
        related_name="tasks",
        through="task_tags",
        forward_key="tag_id",
        backward_key="task_id",
        on_delete=fields.CASCADE,
        unique=True,
    )

    class Meta:
        table = "tasks"
        indexes = (
            ("status", "priority"),
            ("assignee_id",),
            ("creator_id",),
            ("created_at", "id"),
            ("updated_at", "id"),
            ("due_date", "id"),
            ("priority", "id"),
            ("title", "id"),
        )
