"""Beanie document for users, with the embedded profile (collection `users`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pymongo
from beanie import Document, Insert, Replace, Save, SaveChanges, Update, before_event
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

NAME_MAX = 100
BIO_MAX = 500
EMAIL_MAX = 254
AVATAR_MAX = 2048

# Pragmatic address check: one @, no spaces, a dot in the domain, sane label characters.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_AVATAR = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def utcnow() -> datetime:
    """Now, tz-aware UTC, truncated to ms (what BSON stores), so values round-trip unchanged."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def normalize_email(value: str) -> str:
    """Trimmed, lower-cased, validated email; raises ValueError when it is not an address."""
    email = value.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise ValueError("invalid email address")
    return email


def validate_timezone(value: str) -> str:
    """The IANA zone name, if it names one; raises ValueError otherwise."""
    if not value or value != value.strip() or "\x00" in value:
        raise ValueError("invalid timezone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown IANA timezone {value!r}") from None
    return value


def validate_avatar(value: str | None) -> str | None:
    """An http(s) URL or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > AVATAR_MAX or not _AVATAR.match(value):
        raise ValueError("avatar must be an http(s) URL")
    return value


class Profile(BaseModel):
    """Embedded in the user document."""

    model_config = ConfigDict(validate_assignment=True)

    bio: Annotated[str, StringConstraints(max_length=BIO_MAX)] | None = None
    timezone: str = "UTC"
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)


class User(Document):
    email: str
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=NAME_MAX)] | None = None
    avatar: str | None = None
    profile: Profile | None = Field(default_factory=Profile)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(validate_assignment=True)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @field_validator("avatar")
    @classmethod
    def _avatar(cls, value: str | None) -> str | None:
        return validate_avatar(value)

    @before_event(Insert)
    def _stamp_created(self) -> None:
        now = utcnow()
        self.created_at = now
        self.updated_at = now

    @before_event(Replace, Save, SaveChanges, Update)
    def _stamp_updated(self) -> None:
        self.updated_at = utcnow()

    class Settings:
        name = "users"
        use_state_management = True


# Created by app.stores.mongo.ensure_indexes (not Beanie: see there why).
USER_INDEXES = [
    pymongo.IndexModel([("email", pymongo.ASCENDING)], name="email_unique", unique=True),
    pymongo.IndexModel([("created_at", pymongo.DESCENDING), ("_id", pymongo.DESCENDING)], name="created_at_desc"),
]
