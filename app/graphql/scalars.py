"""Scalar overrides: DateTime refuses instants that leave the representable range once converted to UTC.

strawberry's DateTime accepts "9999-12-31T23:59:59-05:00", which is year 10000 in UTC: every store would
then fail on it (an INTERNAL error). Here it is a coercion error (BAD_USER_INPUT) like any malformed date.
The name, description and wire format are strawberry's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dateutil.parser
from strawberry.types.scalar import ScalarDefinition

from app.common.timestamps import as_utc
from app.graphql.strawberry_adapter import isoformat, wrap_parser


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 instant whose UTC equivalent exists (naive values are read as UTC)."""
    value = dateutil.parser.isoparse(text)
    try:
        as_utc(value).astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None
    return value


DATETIME = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=isoformat,
    parse_value=wrap_parser(parse_datetime, "DateTime", exceptions=(ValueError, OverflowError)),
    parse_literal=None,
    origin=datetime,
)

SCALAR_OVERRIDES = {datetime: DATETIME}
