"""GraphQL types for tags."""

from __future__ import annotations

import strawberry


@strawberry.type(name="Tag", description="A label tasks can carry; names are unique case-insensitively.")
class TagType:
    id: strawberry.ID = strawberry.field(description="Opaque, time-ordered id (UUIDv7).")
    name: str = strawberry.field(description="Display name, 1 to 50 characters.")
    color: str = strawberry.field(description="Color as #rrggbb (lower case).")


@strawberry.type(name="TagWithCount", description="A tag and how many live tasks carry it.")
class TagWithCountType:
    tag: TagType = strawberry.field(description="The tag.")
    task_count: int = strawberry.field(description="Tasks carrying the tag, soft-deleted ones excluded.")
