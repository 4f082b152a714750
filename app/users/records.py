"""Read models of the `users` documents for the hot read path (loaders, caches): Beanie projection models.

Writes go through the `User` document and its validators. Reads that only display a user project the
stored document onto `UserRecord`: Beanie derives the find's projection from the model's fields, and
pydantic builds the row without the document's validators and state tracking, which costs a fraction of a
Document's construction (see `app.users.service._projected`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from beanie import PydanticObjectId
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.cache.codec import Codec


def _or(default: Any) -> BeforeValidator:
    """Stored null (or an empty value) reads as the default, as the document's defaults would."""
    return BeforeValidator(lambda value: value or default)


class ProfileRecord(BaseModel):
    """The embedded profile as read."""

    model_config = ConfigDict(frozen=True)

    bio: str | None = None
    timezone: Annotated[str, _or("UTC")] = "UTC"
    settings: Annotated[dict[str, Any], _or({})] = Field(default_factory=dict)


class UserRecord(BaseModel):
    """A user as read: the projection of the fields the GraphQL face shows (a missing or null profile reads
    as the default one)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: PydanticObjectId = Field(alias="_id")
    email: str
    name: str | None = None
    avatar: str | None = None
    profile: Annotated[ProfileRecord, _or({})] = Field(default_factory=ProfileRecord)
    created_at: datetime
    updated_at: datetime


class UserId(BaseModel):
    """Just the id (existence checks)."""

    id: PydanticObjectId = Field(alias="_id")


def _dump(record: UserRecord) -> dict[str, Any]:
    return {
        "id": str(record.id), "email": record.email, "name": record.name, "avatar": record.avatar,
        "bio": record.profile.bio, "timezone": record.profile.timezone, "settings": record.profile.settings,
        "created_at": record.created_at.isoformat(), "updated_at": record.updated_at.isoformat(),
    }


def _load(data: dict[str, Any]) -> UserRecord:
    # One validation of the stored shape (cheaper than a constructor per model); datetimes parsed by the
    # standard library so a hit carries the same tzinfo as a miss.
    return UserRecord.model_validate({
        "_id": data["id"], "email": data["email"], "name": data["name"], "avatar": data["avatar"],
        "profile": {"bio": data["bio"], "timezone": data["timezone"], "settings": data["settings"]},
        "created_at": datetime.fromisoformat(data["created_at"]),
        "updated_at": datetime.fromisoformat(data["updated_at"]),
    })


# Hand-written: the generic pydantic codec would nest the profile and change the cached shape.
USER_RECORD: Codec[UserRecord] = Codec(_dump, _load)
