"""Tortoise model for the record of applied data migrations (table `data_migrations`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.fields.db_defaults import Now
from tortoise.models import Model

NAME_MAX = 100


class DataMigrationRecord(Model):
    """One row per data migration that ran to completion; a name here never runs again."""

    name = fields.CharField(max_length=NAME_MAX, primary_key=True)
    description = fields.TextField()
    applied_at = fields.DatetimeField(db_default=Now())
    duration_ms = fields.IntField()

    class Meta:
        table = "data_migrations"
