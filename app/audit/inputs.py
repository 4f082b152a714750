"""GraphQL inputs for the audit log."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.audit.service import AuditFilters


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
