"""Cache keys for users (the only place they are built)."""

from __future__ import annotations

from collections.abc import Sequence

from app.cache.keys import CacheKey, collection, collection_stamp, row
from app.common.changes import Entity


def user(user_id: str) -> CacheKey:
    """One user document."""
    return row(Entity.USER, user_id)


def user_page(params: object) -> CacheKey:
    """One page of a user list: `params` is everything that shapes it."""
    return collection(Entity.USER, "page", params)


def user_stats(user_ids: Sequence[str] | None = None) -> CacheKey:
    """Task counts per user with the users themselves (None: every assignee, busiest first)."""
    params = None if user_ids is None else list(user_ids)
    return collection(Entity.USER, "stats", params, also=(collection_stamp(Entity.TASK),))
