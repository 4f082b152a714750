"""Beanie document for users, with the embedded profile (collection `users`).

The validators are plain functions so the service can run each one on its own input field (and report
every invalid field at once) before anything is written; the pydantic validators call the same functions,
so a document can never hold what the service would reject.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import pymongo
from beanie import Document, Insert, Replace, Save, SaveChanges, Update, before_event
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.stores.mongo import RoutedReads

NAME_MAX = 100
BIO_MAX = 500
EMAIL_MAX = 254
AVATAR_MAX = 2048
SETTINGS_MAX_BYTES = 16 * 1024
SETTINGS_MAX_DEPTH = 10

# Pragmatic address check: one @, no spaces, a dot in the domain, sane label characters.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_AVATAR = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
# Names are one line; a bio may hold newlines and tabs but no other control characters.
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_BIO_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BSON_INT_MIN, _BSON_INT_MAX = -(2**63), 2**63 - 1


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


def _trimmed(value: str | None) -> str | None:
    """The text without surrounding whitespace; None when absent or blank (blank clears a field)."""
    return None if value is None else value.strip() or None


def validate_avatar(value: str | None) -> str | None:
    """An http(s) URL or None."""
    value = _trimmed(value)
    if value is None:
        return None
    if len(value) > AVATAR_MAX or not _AVATAR.match(value):
        raise ValueError("avatar must be an http(s) URL")
    return value


def validate_name(value: str | None) -> str | None:
    """The trimmed display name (blank means no name); raises ValueError when too long or multi-line."""
    value = _trimmed(value)
    return None if value is None else _bounded_text(value, max_length=NAME_MAX, forbidden=_NAME_FORBIDDEN)


def validate_bio(value: str | None) -> str | None:
    """The bio as given (blank means none); raises ValueError when too long or holding control characters."""
    if _trimmed(value) is None:
        return None
    return _bounded_text(value, max_length=BIO_MAX, forbidden=_BIO_FORBIDDEN)


def _bounded_text(value: str, *, max_length: int, forbidden: re.Pattern[str]) -> str:
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    if forbidden.search(value):
        raise ValueError("must not contain control characters")
    return value


def validate_settings(value: object) -> dict[str, Any]:
    """A JSON object of bounded size and depth whose keys are safe Mongo field names; raises ValueError.

    Settings are free-form client data stored inside the user document. Their keys become Mongo field
    names: `update_settings(mode="merge")` writes `{"$set": {"profile.settings.<key>": ...}}`, so a key
    with a `.` would address a different (nested) path than the one validated, and a key starting with `$`
    would be read as an operator by any query or update that ever embeds the object (`{"$where": ...}`
    runs server-side JavaScript on MongoDB, `{"$gt": ""}` turns an equality into a match-all). NUL ends a
    C string on the server side. Rejecting such keys at every depth keeps client data plain data; string
    VALUES like "$gt" are harmless and stored as they are.
    """
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    _check_json(value, path="settings", depth=1)
    size = len(orjson.dumps(value))
    if size > SETTINGS_MAX_BYTES:
        raise ValueError(f"must be at most {SETTINGS_MAX_BYTES} bytes as JSON (got {size})")
    return value


def _check_json(value: object, *, path: str, depth: int) -> None:
    if depth > SETTINGS_MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {SETTINGS_MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_key(key, path=path)
            _check_json(item, path=f"{path}.{key}", depth=depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, path=f"{path}.{index}", depth=depth + 1)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if not _BSON_INT_MIN <= value <= _BSON_INT_MAX:
            raise ValueError(f"{path}: integer out of the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: numbers must be finite")
    else:
        raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


def _check_key(key: object, *, path: str) -> None:
    if not isinstance(key, str):
        raise ValueError(f"{path}: keys must be strings")
    if not key:
        raise ValueError(f"{path}: keys must not be empty")
    if key.startswith("$"):
        raise ValueError(f"{path}: key {key!r} must not start with '$'")
    if "." in key or "\x00" in key:
        raise ValueError(f"{path}: key {key!r} must not contain '.' or NUL")


class Profile(BaseModel):
    """Embedded in the user document."""

    model_config = ConfigDict(validate_assignment=True)

    bio: str | None = None
    timezone: str = "UTC"
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("bio")
    @classmethod
    def _bio(cls, value: str | None) -> str | None:
        return validate_bio(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_settings(value)


class User(RoutedReads, Document):
    email: str
    name: str | None = None
    avatar: str | None = None
    profile: Profile = Field(default_factory=Profile)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(validate_assignment=True)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return validate_name(value)

    @field_validator("avatar")
    @classmethod
    def _avatar(cls, value: str | None) -> str | None:
        return validate_avatar(value)

    @field_validator("profile", mode="before")
    @classmethod
    def _profile(cls, value: object) -> object:
        # Documents written before the profile existed (or with `profile: null`) read as the defaults;
        # the service's dotted `$set`s on `profile.*` need an embedded document to write into.
        return Profile() if value is None else value

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


# Created by app.stores.mongo.ensure_indexes (not Beanie: see there why). One per sort order of
# find_users (email's unique index serves the EMAIL sort) plus the timezone filter.
USER_INDEXES = [
    pymongo.IndexModel([("email", pymongo.ASCENDING)], name="email_unique", unique=True),
    pymongo.IndexModel([("created_at", pymongo.DESCENDING), ("_id", pymongo.DESCENDING)], name="created_at_desc"),
    pymongo.IndexModel([("name", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)], name="name_asc"),
    pymongo.IndexModel([("profile.timezone", pymongo.ASCENDING)], name="profile_timezone"),
]
