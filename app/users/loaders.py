"""Batch load functions for user DataLoaders: one Mongo `$in` query per batch, results in key order."""

from __future__ import annotations

from collections.abc import Sequence

from app.users import service
from app.users.documents import User


async def users_by_id(ids: Sequence[str]) -> list[User | None]:
    """Users by id; None for ids that do not exist (a deleted assignee reads as null)."""
    return await service.get_users_by_ids(ids=ids)
