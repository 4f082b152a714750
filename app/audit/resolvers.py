"""The admin-only `auditLog` query: audit rows, filtered, newest first, one page at a time."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from app.audit.inputs import AuditLogFilterInput
from app.audit.service import find_audit_entries
from app.audit.types import AuditEntryConnection
from app.auth import permissions as can
from app.graphql.arguments import After, First
from app.graphql.relay import ConnectionView, selects
from app.graphql.response_cache import never_store

# Every committed row at once, on every instance: audit rows bump no cache stamp (some writes record a row and
# change nothing else; a user write's row lands after its change notice), so answers are never cached.
never_store("auditLog")


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
