"""Tag queries and mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from app.common.errors import NotFound
from app.graphql.arguments import IdArg, maybe
from app.tags import loaders, service
from app.tags.inputs import UpdateTagInput
from app.tags.loaders import TAG_BY_ID
from app.tags.types import TagType, TagWithCountType


@strawberry.type
class TagQuery:
    @strawberry.field(description="A tag by id; null when it does not exist.")
    async def tag(self, info: Info, id: IdArg) -> TagType | None:
        return await info.context.loaders.get(TAG_BY_ID).load(id)

    @strawberry.field(description="Every tag by name, with its live task count.")
    async def tags(self) -> list[TagWithCountType]:
        return await loaders.tag_list()  # type: ignore[return-value]


@strawberry.type
class TagMutation:
    @strawberry.mutation(description="Create a tag; CONFLICT when the name exists in any letter case.")
    async def create_tag(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="1 to 50 characters.")],
        color: Annotated[str, strawberry.argument(description="#rrggbb.")],
    ) -> TagType:
        return await service.create_tag(  # type: ignore[return-value]
            name=name, color=color, actor=info.context.principal
        )

    @strawberry.mutation(description="Rename and/or recolor a tag.")
    async def update_tag(
        self,
        info: Info,
        id: IdArg,
        input: Annotated[UpdateTagInput, strawberry.argument(description="Fields to change.")],
    ) -> TagType:
        return await service.update_tag(  # type: ignore[return-value]
            tag_id=id, name=maybe(input.name), color=maybe(input.color), actor=info.context.principal
        )

    @strawberry.mutation(description="Delete a tag; tasks lose it. NOT_FOUND when it does not exist.")
    async def delete_tag(self, info: Info, id: IdArg) -> bool:
        if not await service.delete_tag(tag_id=id, actor=info.context.principal):
            raise NotFound(f"tag {id} not found")
        return True
