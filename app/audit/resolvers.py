"""The admin-only `auditLog` query: audit rows, filtered, newest first, one page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.audit.service import AuditFilters, find_audit_entries
from app.auth import permissions as can
from app.graphql.arguments import After, First
from app.graphql.relay import Connection, ConnectionView, selects
from app.graphql.response_cache import never_store

# Every committed row at once, on every instance: audit rows bump no cache stamp (some writes record a row and
# change nothing else; a user write's row lands after its change notice), so answers are never cached.
never_store("auditLog")


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


@strawberry.input(name="AuditLogFilter", description="Narrows the audit log; every given condition must hold.")
class AuditLogFilterInput:
    actor_id: str | None = strawberry.field(default=None, description="Written by this actor.")
    entity: str | None = strawberry.field(default=None, description="task, tag, user or data_migration.")
    entity_id: str | None = strawberry.field(default=None, description="About this object.")
    actions: list[str] | None = strawberry.field(default=None, description="Any of these actions.")
    since: datetime | None = strawberry.field(default=None, description="At or after this instant.")
    until: datetime | None = strawberry.field(default=None, description="Before this instant.")

    def to_filters(self) -> AuditFilters:
        return AuditFilters(
            actor_id=self.actor_id,
            entity=self.entity,
            entity_id=self.entity_id,
            actions=tuple(self.actions or ()),
            since=self.since,
            until=self.until,
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Recorded writes, newest first (admins only).")
    async def audit_log(
        self,
        info: Info,
        filter: Annotated[AuditLogFilterInput | None, strawberry.argument(description="Conditions.")] = None,
        first: First = None,
        after: After = None,
    ) -> AuditEntryConnection:
        principal = info.context.principal
        can.ensure(principal, can.can_read_audit_log(principal), "read the audit log")
        page = await find_audit_entries(
            filters=(filter or AuditLogFilterInput()).to_filters(),
            first=first,
            after=after,
            with_total=selects(info, "totalCount"),
        )
        return ConnectionView(page)  # type: ignore[return-value]
