"""Tortoise model for the audit log (table `audit_log`); rows are written by app.audit.writer only."""

from __future__ import annotations

from typing import Any

import orjson
from tortoise import fields
from tortoise.fields.db_defaults import Now
from tortoise.models import Model

from app.common.ids import uuid7


def encode_changes(changes: Any) -> str:
    """Changes as JSON; values JSON has no type for (datetimes, UUIDs, ...) are written as their text."""
    return orjson.dumps(changes, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class AuditEntry(Model):
    """One write: who (actor), what (action on entity/entity_id), when (at) and the changed fields."""

    id = fields.UUIDField(primary_key=True, default=uuid7)
    # now() is the transaction's start: every row of one transaction shares it (ids keep their order).
    at = fields.DatetimeField(db_default=Now())
    actor_id = fields.CharField(max_length=64)
    actor_role = fields.CharField(max_length=16, null=True)
    action = fields.CharField(max_length=32)
    entity = fields.CharField(max_length=32)
    entity_id = fields.CharField(max_length=64, null=True)
    # {field: {"old": ..., "new": ...}}
    changes = fields.JSONField(default=dict, encoder=encode_changes)
    request_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "audit_log"
        indexes = (("at", "id"), ("entity", "entity_id"), ("actor_id", "at"))
