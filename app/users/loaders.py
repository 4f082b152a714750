"""The relation the users domain serves (USERS_BY_ID, for `Task.assignee` and the user queries) and the
cached user pages and stats."""

from __future__ import annotations

from collections.abc import Sequence

from app import cache
from app.cache.codec import typed
from app.common.pagination import CursorPage, OffsetPage, PageResult
from app.graphql.loaders import LoaderSpec
from app.users import keys, service
from app.users.filters import UserFilters, UserSort
from app.users.records import USER_RECORD, UserRecord
from app.users.service import UserStats

_PAGE = typed(PageResult[UserRecord])
_STATS = typed(list[UserStats])


async def users_by_id(ids: Sequence[str]) -> list[UserRecord | None]:
    """Users by id as read-only rows (one Mongo find for the misses); None for ids that do not exist."""
    return await cache.current().get_many(
        ids, keys.user, lambda missing: service.get_users_by_ids(ids=missing), USER_RECORD
    )


USERS_BY_ID: LoaderSpec[str, UserRecord | None] = LoaderSpec("users_by_id", users_by_id)


async def user_page(
    *, filters: UserFilters, sort: UserSort, page: OffsetPage | CursorPage, with_total: bool
) -> PageResult[UserRecord]:
    """One page of users, cached per filters, sort, page and whether the total was asked for."""
    key = keys.user_page({"filters": filters, "sort": sort, "page": page, "total": with_total})
    return await cache.current().get(
        key, lambda: service.find_users(filters=filters, sort=sort, page=page, with_total=with_total), _PAGE
    )


async def user_stats(*, user_ids: Sequence[str] | None) -> list[UserStats]:
    """Task counts per user."""
    return await cache.current().get(keys.user_stats(user_ids), lambda: service.user_stats(user_ids=user_ids), _STATS)
