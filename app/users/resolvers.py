"""User queries and mutations."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.auth import permissions as can
from app.common.errors import FieldError, NotFound, ValidationFailed
from app.graphql.arguments import After, Before, First, IdArg, Last, Limit, PageNumber, maybe
from app.graphql.relay import ConnectionView, page_from_args, selects
from app.graphql.surcharges import register as register_surcharge
from app.users import loaders, service
from app.users.inputs import (
    IDS_MAX,
    CreateUserInput,
    SettingsModeEnum,
    UpdateUserInput,
    UserFilterInput,
    UserSortEnum,
)
from app.users.loaders import USERS_BY_ID
from app.users.surcharges import email_change_surcharge
from app.users.types import UserConnection, UserStatsType, UserType

# Each email change a member tries costs EMAIL_CHANGE_COST extra (its CONFLICT would otherwise be a free probe).
register_surcharge("updateUser", email_change_surcharge)


@strawberry.type
class UserQuery:
    @strawberry.field(description="A user by id; null when it does not exist.")
    async def user(self, info: Info, id: IdArg) -> UserType | None:
        return await info.context.loaders.get(USERS_BY_ID).load(id)

    @strawberry.field(description="The signed-in user; null without a token or when the token's user is gone.")
    async def me(self, info: Info) -> UserType | None:
        user_id = info.context.principal.user_id
        return None if user_id is None else await info.context.loaders.get(USERS_BY_ID).load(user_id)

    @strawberry.field(
        description="A user by email (any letter case); null when none. Members find only themselves this way."
    )
    async def user_by_email(
        self, info: Info, email: Annotated[str, strawberry.argument(description="The email address.")]
    ) -> UserType | None:
        user = await service.get_user_by_email(email=email)
        principal = info.context.principal
        # null, not FORBIDDEN, for someone else: an error would confirm that the address exists.
        if user is None or not can.can_see_email(principal, user.id):
            return None
        return user  # type: ignore[return-value]

    @strawberry.field(description="Users matching a filter, in a whitelisted order, one page at a time.")
    async def users(
        self,
        info: Info,
        filter: Annotated[UserFilterInput | None, strawberry.argument(description="Conditions.")] = None,
        sort: Annotated[UserSortEnum, strawberry.argument(description="Order.")] = UserSortEnum.CREATED_AT_DESC,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        page: PageNumber = None,
        limit: Limit = None,
    ) -> UserConnection:
        principal = info.context.principal
        filters = (filter or UserFilterInput()).to_filters()
        if not can.can_search_user_emails(principal):
            # Cursors carry the sort value: an EMAIL order would hand out addresses.
            if sort in (UserSortEnum.EMAIL_ASC, UserSortEnum.EMAIL_DESC):
                can.ensure(principal, False, "sort users by email")
            filters = replace(filters, search_emails=False)
        result = await loaders.user_page(
            filters=filters,
            sort=sort.to_sort(),
            page=page_from_args(first=first, after=after, last=last, before=before, page=page, limit=limit),
            with_total=selects(info, "totalCount"),
        )
        return ConnectionView(result)  # type: ignore[return-value]

    @strawberry.field(description="Live task counts per assignee (the given users, or every assignee).")
    async def user_stats(
        self,
        user_ids: Annotated[
            list[strawberry.ID] | None, strawberry.argument(description="Only these users (at most 100).")
        ] = None,
    ) -> list[UserStatsType]:
        if user_ids is not None and len(user_ids) > IDS_MAX:
            raise ValidationFailed(FieldError("userIds", f"at most {IDS_MAX} ids"))
        return await loaders.user_stats(user_ids=user_ids)  # type: ignore[return-value]

    @strawberry.field(description="Users assigned a live task created in [start, end).")
    async def users_with_tasks_created_between(
        self,
        start: Annotated[datetime, strawberry.argument(description="Range start (inclusive).")],
        end: Annotated[datetime, strawberry.argument(description="Range end (exclusive).")],
    ) -> list[UserType]:
        return await service.users_with_tasks_created_between(start=start, end=end)  # type: ignore[return-value]


@strawberry.type
class UserMutation:
    @strawberry.mutation(description="Create a user; CONFLICT when the email is taken.")
    async def create_user(
        self, info: Info, input: Annotated[CreateUserInput, strawberry.argument(description="The new user.")]
    ) -> UserType:
        return await service.create_user(  # type: ignore[return-value]
            actor=info.context.principal,
            email=input.email,
            name=input.name,
            avatar=input.avatar,
            bio=input.bio,
            timezone=input.timezone,
            settings=input.settings,
        )

    @strawberry.mutation(
        description="Change some fields of a user. For members, giving an email costs EMAIL_CHANGE_COST extra "
        "points (reported in extensions.cost), and every try is audited."
    )
    async def update_user(
        self,
        info: Info,
        id: IdArg,
        input: Annotated[UpdateUserInput, strawberry.argument(description="Fields to change.")],
    ) -> UserType:
        # The service rejects null for email and timezone (VALIDATION_FAILED).
        return await service.update_user(  # type: ignore[return-value]
            actor=info.context.principal,
            user_id=id,
            email=maybe(input.email),
            name=maybe(input.name),
            avatar=maybe(input.avatar),
            bio=maybe(input.bio),
            timezone=maybe(input.timezone),
        )

    @strawberry.mutation(description="Write a user's settings object (MERGE: top-level keys, null removes a key).")
    async def update_user_settings(
        self,
        info: Info,
        id: IdArg,
        settings: Annotated[JSON, strawberry.argument(description="A JSON object.")],
        mode: Annotated[SettingsModeEnum, strawberry.argument(description="MERGE or REPLACE.")] = SettingsModeEnum.MERGE,
    ) -> UserType:
        return await service.update_settings(  # type: ignore[return-value]
            user_id=id, settings=settings, mode=mode.value, actor=info.context.principal
        )

    @strawberry.mutation(description="Delete a user and unassign their tasks. NOT_FOUND when no such user.")
    async def delete_user(self, info: Info, id: IdArg) -> bool:
        if not await service.delete_user(user_id=id, actor=info.context.principal):
            raise NotFound(f"user {id} not found")
        return True
