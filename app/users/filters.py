"""What `find_users` accepts: filters and the whitelisted sort orders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

SEARCH_MAX = 100


@dataclass(frozen=True)
class UserFilters:
    """All given filters must match. `search` is a literal, case-insensitive substring of name or email
    (of name only when `search_emails` is off: callers who may not see emails must not probe them);
    `created_after` is inclusive, `created_before` exclusive; `ids` that are not user ids match nothing."""

    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    timezone: str | None = None
    ids: Sequence[str] | None = None
    search_emails: bool = True


class UserSortField(str, Enum):
    CREATED_AT = "CREATED_AT"
    NAME = "NAME"
    EMAIL = "EMAIL"


class SortDirection(str, Enum):
    ASC = "ASC"
    DESC = "DESC"


# Newest first by default; names and emails read naturally A to Z.
DEFAULT_DIRECTIONS = {
    UserSortField.CREATED_AT: SortDirection.DESC,
    UserSortField.NAME: SortDirection.ASC,
    UserSortField.EMAIL: SortDirection.ASC,
}


@dataclass(frozen=True)
class UserSort:
    """A whitelisted field and a direction (None = that field's default); `_id` breaks ties.

    NAME orders by code point (no collation on FerretDB), users without a name first when ascending.
    """

    field: UserSortField = UserSortField.CREATED_AT
    direction: SortDirection | None = None

    @property
    def descending(self) -> bool:
        return (self.direction or DEFAULT_DIRECTIONS[self.field]) is SortDirection.DESC
