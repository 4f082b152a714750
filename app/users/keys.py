"""Cache keys for users (the only place they are built)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from app.cache.keys import CacheKey, KEYS_MEMO, bulk_stamp, collection, over_partitions, row_stamp
from app.cache.keys import row as row_key
from app.common.changes import TASK_ASSIGNEE, TASK_ROWS, Entity


def canonical_user_id(user_id: str) -> str:
    """A user id as writes spell it: ObjectIds are read in either letter case, written in lower case."""
    return user_id.lower() if len(user_id) == 24 else user_id


@lru_cache(maxsize=KEYS_MEMO)
def user(user_id: str) -> CacheKey:
    """One user document (any letter case of its id)."""
    return row_key(Entity.USER, canonical_user_id(user_id))


def user_page(params: object) -> CacheKey:
    """One page of a user list: `params` is everything that shapes it."""
    return collection(Entity.USER, "page", params)


def user_stats(user_ids: Sequence[str] | None = None) -> CacheKey:
    """Task counts per user with the users themselves (None: every assignee, busiest first).

    For given users it depends on those users' rows and their assignee slices of the task lists only; for
    every assignee on the whole user collection and the slice of every task row (any row write may change
    who is listed, and in which order; tag-link changes do not).
    """
    if user_ids is None:
        return collection(Entity.USER, "stats", None, also=over_partitions(Entity.TASK, [TASK_ROWS]))
    ids = list(dict.fromkeys(canonical_user_id(user_id) for user_id in user_ids))
    rows = tuple(dict.fromkeys(
        stamp for user_id in ids for stamp in (bulk_stamp(Entity.USER, user_id), row_stamp(Entity.USER, user_id))
    ))
    slices = over_partitions(Entity.TASK, [(TASK_ASSIGNEE, user_id) for user_id in ids])
    return collection(Entity.USER, "stats", list(user_ids), over=rows, also=slices)
