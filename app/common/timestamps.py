"""The one rule for instants without a zone: the API reads every naive datetime as UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """`value` itself when it carries a zone, else the same wall time in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
