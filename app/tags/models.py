"""Tortoise model for tags (table `tags`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from app.common.ids import uuid7

NAME_MAX = 50


class Tag(Model):
    id = fields.UUIDField(primary_key=True, default=uuid7)
    # Unique case-insensitively: a unique index on lower(name) is created in the migration SQL.
    name = fields.CharField(max_length=NAME_MAX)
    color = fields.CharField(max_length=7)

    class Meta:
        table = "tags"
