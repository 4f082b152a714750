"""Plain read-only user rows for the hot read path (loaders, caches): no Beanie validation or state tracking.

Writes go through the `User` document and its validators; reads that only display a user use these,
built straight from the stored BSON, which costs a fraction of a Document's construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.cache.codec import Codec


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    bio: str | None = None
    timezone: str = "UTC"
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    email: str
    name: str | None
    avatar: str | None
    profile: ProfileRecord
    created_at: datetime
    updated_at: datetime


def record_from_document(doc: dict[str, Any]) -> UserRecord:
    """A record from a stored user document (a missing or null profile reads as the default one)."""
    profile = doc.get("profile") or {}
    return UserRecord(
        id=str(doc["_id"]),
        email=doc["email"],
        name=doc.get("name"),
        avatar=doc.get("avatar"),
        profile=ProfileRecord(
            bio=profile.get("bio"), timezone=profile.get("timezone") or "UTC", settings=profile.get("settings") or {}
        ),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _dump(record: UserRecord) -> dict[str, Any]:
    return {
        "id": record.id, "email": record.email, "name": record.name, "avatar": record.avatar,
        "bio": record.profile.bio, "timezone": record.profile.timezone, "settings": record.profile.settings,
        "created_at": record.created_at.isoformat(), "updated_at": record.updated_at.isoformat(),
    }


def _load(data: dict[str, Any]) -> UserRecord:
    return UserRecord(
        id=data["id"], email=data["email"], name=data["name"], avatar=data["avatar"],
        profile=ProfileRecord(bio=data["bio"], timezone=data["timezone"], settings=data["settings"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


# Hand-written: the generic pydantic codec costs more than the row it rebuilds.
USER_RECORD: Codec[UserRecord] = Codec(_dump, _load)
