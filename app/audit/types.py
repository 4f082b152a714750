"""GraphQL types for the audit log."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.graphql.relay import Connection


@strawberry.type(name="AuditEntry", description="One recorded write: who changed what, when, and how.")
class AuditEntryType:
    id: strawberry.ID = strawberry.field(description="Opaque, time-ordered id (UUIDv7).")
    at: datetime = strawberry.field(description="When the write's transaction started.")
    actor_id: str = strawberry.field(
        description="The user id of the writer, or `system:<name>` for commands and data migrations."
    )
    actor_role: str | None = strawberry.field(description="`member` or `admin` when the write was made.")
    action: str = strawberry.field(
        description="create, update, soft_delete, restore, hard_delete, add_tags, remove_tags, bulk_create, "
        "bulk_replace, delete, update_settings, data_migration or email_change_attempt (changes: `{outcome: "
        "{old: null, new: OK|CONFLICT|VALIDATION_FAILED|FORBIDDEN|NOT_FOUND|...}}`, never the address tried)."
    )
    entity: str = strawberry.field(description="task, tag, user or data_migration.")
    entity_id: str | None = strawberry.field(description="Id of the object written.")
    changes: JSON = strawberry.field(description="Changed fields: `{field: {old, new}}`.")
    request_id: str | None = strawberry.field(description="X-Request-Id of the request that wrote it.")


@strawberry.type(name="AuditEntryConnection", description="One page of audit entries (Relay connection).")
class AuditEntryConnection(Connection[AuditEntryType]):
    pass
