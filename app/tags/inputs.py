"""GraphQL inputs for tags."""

from __future__ import annotations

import strawberry


@strawberry.input(name="UpdateTagInput", description="Fields to change; omitted ones stay.")
class UpdateTagInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name (not null).")
    color: str | None = strawberry.field(default=strawberry.UNSET, description="New #rrggbb color (not null).")
