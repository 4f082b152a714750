"""GraphQL inputs for users: filters, sort orders, create/update payloads."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from app.common.errors import FieldError, ValidationFailed
from app.users.filters import SEARCH_MAX, SortDirection, UserFilters, UserSort, UserSortField

IDS_MAX = 100


@strawberry.enum(name="UserSort", description="Whitelisted user orders; ties are broken by id.")
class UserSortEnum(Enum):
    CREATED_AT_DESC = "CREATED_AT:DESC"
    CREATED_AT_ASC = "CREATED_AT:ASC"
    NAME_ASC = "NAME:ASC"
    NAME_DESC = "NAME:DESC"
    EMAIL_ASC = "EMAIL:ASC"
    EMAIL_DESC = "EMAIL:DESC"

    def to_sort(self) -> UserSort:
        field, direction = self.value.split(":")
        return UserSort(UserSortField(field), SortDirection(direction))


@strawberry.enum(name="SettingsMode", description="How updateUserSettings applies the given object.")
class SettingsModeEnum(Enum):
    MERGE = "merge"
    REPLACE = "replace"


@strawberry.input(name="UserFilter", description="Narrows a user list; every given condition must hold.")
class UserFilterInput:
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive literal substring of name or email."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Created at or after this instant.")
    created_before: datetime | None = strawberry.field(default=None, description="Created before this instant.")
    timezone: str | None = strawberry.field(default=None, description="Profile time zone equals this.")
    ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Only these users.")

    def to_filters(self) -> UserFilters:
        if self.search is not None and len(self.search) > SEARCH_MAX:
            raise ValidationFailed(FieldError("filter.search", f"at most {SEARCH_MAX} characters"))
        if self.ids is not None and len(self.ids) > IDS_MAX:
            raise ValidationFailed(FieldError("filter.ids", f"at most {IDS_MAX} ids"))
        return UserFilters(
            search=self.search or None,
            created_after=self.created_after,
            created_before=self.created_before,
            timezone=self.timezone,
            ids=self.ids,
        )


@strawberry.input(name="CreateUserInput", description="A new user.")
class CreateUserInput:
    email: str = strawberry.field(description="Email address; stored trimmed and lower-cased, unique.")
    name: str | None = strawberry.field(default=None, description="At most 100 characters.")
    avatar: str | None = strawberry.field(default=None, description="http(s) URL.")
    bio: str | None = strawberry.field(default=None, description="At most 500 characters.")
    timezone: str = strawberry.field(default="UTC", description="IANA time zone name.")
    settings: JSON | None = strawberry.field(default=None, description="JSON object of client settings.")


@strawberry.input(name="UpdateUserInput", description="Fields to change; omitted ones stay, null clears optional ones.")
class UpdateUserInput:
    email: str | None = strawberry.field(default=strawberry.UNSET, description="New email (not null).")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name or null.")
    avatar: str | None = strawberry.field(default=strawberry.UNSET, description="New avatar URL or null.")
    bio: str | None = strawberry.field(default=strawberry.UNSET, description="New bio or null.")
    timezone: str | None = strawberry.field(default=strawberry.UNSET, description="New time zone (not null).")
