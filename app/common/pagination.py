"""Pagination requests and results shared by every list: offset pages and opaque keyset cursors."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from app.common.errors import FieldError, ValidationFailed
from app.common.timestamps import as_utc

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True)
class OffsetPage:
    """Page numbers: `page` starts at 1; `limit` is capped at MAX_PAGE_SIZE."""

    page: int = 1
    limit: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class CursorPage:
    """Relay-style: `first`/`after` pages forward, `last`/`before` backward."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


Page = OffsetPage | CursorPage


@dataclass
class PageResult(Generic[T]):
    """One page of items with the cursor of each, and the total when it was asked for."""

    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    total_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def validate_page(page: Page) -> Page:
    """Reject out-of-range sizes and mixed directions with VALIDATION_FAILED; returns the page."""
    errors: list[FieldError] = []
    if isinstance(page, OffsetPage):
        if page.page < 1:
            errors.append(FieldError("page", "must be >= 1"))
        if not 1 <= page.limit <= MAX_PAGE_SIZE:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE_SIZE}"))
    else:
        if page.first is not None and page.last is not None:
            errors.append(FieldError("last", "use either first/after or last/before, not both"))
        for name in ("first", "last"):
            value = getattr(page, name)
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                errors.append(FieldError(name, f"must be between 0 and {MAX_PAGE_SIZE}"))
        if page.after is not None and page.before is not None:
            errors.append(FieldError("before", "use either after or before, not both"))
    if errors:
        raise ValidationFailed(errors)
    return page


def encode_cursor(values: list[Any]) -> str:
    """Opaque cursor from the sort-key values of a row (JSON, url-safe base64)."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, *, field_name: str, expected: str) -> list[Any]:
    """Values of a cursor made by encode_cursor; the first must equal `expected` (the sort it was made for)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ValidationFailed(FieldError(field_name, "invalid cursor")) from None
    if not isinstance(values, list) or not values or values[0] != expected:
        raise ValidationFailed(FieldError(field_name, "cursor does not belong to this sort order"))
    return values[1:]


def timestamp_key(raw: object) -> datetime:
    """A sort-key value read back from a cursor as an aware datetime (naive ones are UTC)."""
    if not isinstance(raw, str):
        raise ValueError("not a timestamp")
    return as_utc(datetime.fromisoformat(raw))


def int_key(raw: object) -> int:
    """A sort-key value read back from a cursor as an int."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError("not an int")
    return raw


def str_key(raw: object) -> str:
    """A sort-key value read back from a cursor as a string."""
    if not isinstance(raw, str):
        raise ValueError("not a string")
    return raw


@dataclass(frozen=True)
class KeysetCursor(Generic[K]):
    """The cursors of one keyset order: its token (so a cursor cannot be replayed against another order),
    the row's sort-key value and the row's id, which breaks ties.

    `parse_value` and `parse_id` read a decoded value back (raising ValueError or TypeError when it is
    not one); `nullable` allows a null sort-key value.
    """

    token: str
    parse_value: Callable[[object], Any]
    parse_id: Callable[[str], K]
    nullable: bool = False

    def encode(self, value: Any, row_id: object) -> str:
        """The opaque cursor of a row (datetimes travel as ISO 8601: orjson writes what isoformat() does)."""
        return encode_cursor([self.token, value, str(row_id)])

    def decode(self, cursor: str, *, field_name: str) -> tuple[Any, K]:
        """(sort-key value, id) of a cursor made by `encode`; VALIDATION_FAILED "invalid cursor" otherwise."""
        values = decode_cursor(cursor, field_name=field_name, expected=self.token)
        try:
            raw_value, raw_id = values
            if not isinstance(raw_id, str):
                raise ValueError("bad id")
            row_id = self.parse_id(raw_id)
            if raw_value is None:
                if not self.nullable:
                    raise ValueError("null value")
                return None, row_id
            return self.parse_value(raw_value), row_id
        except (ValueError, TypeError):
            raise ValidationFailed(FieldError(field_name, "invalid cursor")) from None
