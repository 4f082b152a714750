"""find_users: every filter, the whitelisted sorts, offset pages and keyset cursors that never skip or repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from app.auth.principal import SYSTEM
from app.common.errors import ValidationFailed
from app.common.pagination import CursorPage, OffsetPage, PageResult, encode_cursor
from app.users import service
from app.users.documents import User
from app.users.filters import SortDirection, UserFilters, UserSort, UserSortField
from tests.users.helpers import insert_users_at

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BY_EMAIL = UserSort(UserSortField.EMAIL)


def emails(result: PageResult[User] | list[User]) -> list[str]:
    items = result.items if isinstance(result, PageResult) else result
    return [user.email for user in items]


async def page_forward(sort: UserSort, *, size: int, filters: UserFilters = UserFilters()) -> list[User]:
    """Every user, page by page with first/after."""
    seen: list[User] = []
    after = None
    while True:
        result = await service.find_users(filters=filters, sort=sort, page=CursorPage(first=size, after=after))
        seen.extend(result.items)
        if not result.has_next_page:
            return seen
        after = result.cursors[-1]


async def test_search_matches_name_or_email_case_insensitively() -> None:
    await service.create_user(email="ada@example.com", name="Ada Lovelace", actor=SYSTEM)
    await service.create_user(email="lovelace.fan@example.org", name="Fan", actor=SYSTEM)
    await service.create_user(email="grace@example.com", name="Grace Hopper", actor=SYSTEM)

    result = await service.find_users(filters=UserFilters(search="LOVELACE"), sort=BY_EMAIL, with_total=True)

    assert emails(result) == ["ada@example.com", "lovelace.fan@example.org"]
    assert result.total_count == 2


@pytest.mark.parametrize("search", [".*", "a+b", "(x)", "[", "\\", "^", "$"])
async def test_search_text_is_literal_not_a_regex(search: str) -> None:
    await service.create_user(email="plain@example.com", name="Plain name", actor=SYSTEM)
    await service.create_user(email="special@example.com", name=f"has {search} inside", actor=SYSTEM)

    result = await service.find_users(filters=UserFilters(search=search), page=OffsetPage(), with_total=True)

    assert emails(result) == ["special@example.com"]


async def test_search_longer_than_the_limit_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.find_users(filters=UserFilters(search="x" * 101), page=OffsetPage())

    assert caught.value.errors[0].field == "search"


async def test_created_at_range_is_inclusive_start_exclusive_end() -> None:
    for day in range(4):
        await insert_users_at(T0 + timedelta(days=day), [f"day{day}@example.com"])

    result = await service.find_users(
        filters=UserFilters(created_after=T0 + timedelta(days=1), created_before=T0 + timedelta(days=3)),
        sort=UserSort(UserSortField.CREATED_AT, SortDirection.ASC),
        page=OffsetPage(),
        with_total=True,
    )

    assert emails(result) == ["day1@example.com", "day2@example.com"]
    assert result.total_count == 2


async def test_timezone_and_ids_filters() -> None:
    a = await service.create_user(email="a@example.com", timezone="Europe/Berlin", actor=SYSTEM)
    b = await service.create_user(email="b@example.com", timezone="Europe/Berlin", actor=SYSTEM)
    await service.create_user(email="c@example.com", timezone="UTC", actor=SYSTEM)

    by_zone = await service.find_users(filters=UserFilters(timezone="Europe/Berlin"), sort=BY_EMAIL)
    by_ids = await service.find_users(
        filters=UserFilters(ids=[str(b.id), "junk", str(ObjectId())]), page=OffsetPage(), with_total=True
    )
    combined = await service.find_users(
        filters=UserFilters(ids=[str(a.id), str(b.id)], search="b@", timezone="Europe/Berlin"),
        sort=UserSort(),
        page=OffsetPage(),
        with_total=False,
    )
    none_valid = await service.find_users(filters=UserFilters(ids=["junk"]), page=OffsetPage(), with_total=True)

    assert emails(by_zone) == ["a@example.com", "b@example.com"]
    assert emails(by_ids) == ["b@example.com"] and by_ids.total_count == 1
    assert emails(combined) == ["b@example.com"]
    assert emails(none_valid) == [] and none_valid.total_count == 0


async def test_default_sort_is_newest_first() -> None:
    for day in (2, 0, 1):
        await insert_users_at(T0 + timedelta(days=day), [f"d{day}@example.com"])

    result = await service.find_users(page=CursorPage())

    assert emails(result) == ["d2@example.com", "d1@example.com", "d0@example.com"]


async def test_total_count_only_when_asked() -> None:
    await service.create_user(email="a@example.com", actor=SYSTEM)

    without = await service.find_users(page=CursorPage(first=1))
    with_total = await service.find_users(page=CursorPage(first=1), with_total=True)

    assert without.total_count is None
    assert with_total.total_count == 1


@pytest.mark.parametrize("direction", [SortDirection.DESC, SortDirection.ASC])
async def test_cursor_pages_over_equal_created_at_never_skip_or_repeat(direction: SortDirection) -> None:
    users = await insert_users_at(T0, [f"same{i:02}@example.com" for i in range(23)])
    users += await insert_users_at(T0 + timedelta(seconds=1), [f"later{i}@example.com" for i in range(4)])

    seen = await page_forward(UserSort(UserSortField.CREATED_AT, direction), size=5)

    assert len(seen) == len(users) == 27
    assert {u.id for u in seen} == {u.id for u in users}
    keys = [(u.created_at, u.id) for u in seen]
    assert keys == sorted(keys, reverse=direction is SortDirection.DESC)


async def test_rows_inserted_between_pages_do_not_shift_the_next_page() -> None:
    originals = await insert_users_at(T0, [f"o{i:02}@example.com" for i in range(12)])
    first = await service.find_users(page=CursorPage(first=5))

    # Newer rows, and rows tied with the cursor's created_at, arrive while the client pages.
    await service.create_user(email="brand-new@example.com", actor=SYSTEM)
    await insert_users_at(T0, ["tied@example.com"])
    rest = await page_forward_from(first.cursors[-1], size=5)

    ids = [u.id for u in first.items + rest]
    assert len(ids) == len(set(ids))
    assert set(ids) >= {u.id for u in originals}
    assert "brand-new@example.com" not in emails(rest)


async def page_forward_from(after: str, *, size: int) -> list[User]:
    seen: list[User] = []
    while True:
        result = await service.find_users(page=CursorPage(first=size, after=after))
        seen.extend(result.items)
        if not result.has_next_page:
            return seen
        after = result.cursors[-1]


@pytest.mark.parametrize("direction", [SortDirection.ASC, SortDirection.DESC])
async def test_name_sort_pages_through_equal_and_missing_names(direction: SortDirection) -> None:
    await insert_users_at(T0, [f"same{i}@example.com" for i in range(7)], name="Same")
    await insert_users_at(T0, [f"anon{i}@example.com" for i in range(6)], name=None)
    for name in ("zed", "Alpha", "beta"):
        await service.create_user(email=f"{name.lower()}@example.com", name=name, actor=SYSTEM)

    seen = await page_forward(UserSort(UserSortField.NAME, direction), size=4)

    assert len(seen) == len({u.id for u in seen}) == 16
    names = [u.name for u in seen]
    expected = [None] * 6 + ["Alpha"] + ["Same"] * 7 + ["beta", "zed"]  # code-point order, no name first
    assert names == (expected if direction is SortDirection.ASC else expected[::-1])


async def test_email_sort_both_directions() -> None:
    for email in ("b@example.com", "c@example.com", "a@example.com"):
        await service.create_user(email=email, actor=SYSTEM)

    asc = await service.find_users(sort=BY_EMAIL, page=CursorPage())
    desc = await service.find_users(sort=UserSort(UserSortField.EMAIL, SortDirection.DESC), page=CursorPage())

    assert emails(asc) == ["a@example.com", "b@example.com", "c@example.com"]
    assert emails(desc) == ["c@example.com", "b@example.com", "a@example.com"]


async def test_backward_pages_with_last_and_before() -> None:
    await insert_users_at(T0, [f"u{i:02}@example.com" for i in range(10)])
    sort = BY_EMAIL
    everything = await service.find_users(sort=sort, page=CursorPage(first=10))

    last = await service.find_users(sort=sort, page=CursorPage(last=3))
    before = await service.find_users(sort=sort, page=CursorPage(last=3, before=last.cursors[0]))
    start = await service.find_users(sort=sort, page=CursorPage(last=5, before=everything.cursors[2]))

    assert emails(last) == ["u07@example.com", "u08@example.com", "u09@example.com"]
    assert (last.has_previous_page, last.has_next_page) == (True, False)
    assert emails(before) == ["u04@example.com", "u05@example.com", "u06@example.com"]
    assert (before.has_previous_page, before.has_next_page) == (True, True)
    assert emails(start) == ["u00@example.com", "u01@example.com"]
    assert start.has_previous_page is False


async def test_after_and_before_together_are_rejected_and_after_continues() -> None:
    await insert_users_at(T0, [f"w{i}@example.com" for i in range(6)])
    sort = BY_EMAIL
    everything = await service.find_users(sort=sort, page=CursorPage(first=6))

    with pytest.raises(ValidationFailed):
        await service.find_users(sort=sort, page=CursorPage(after=everything.cursors[0], before=everything.cursors[4]))
    window = await service.find_users(sort=sort, page=CursorPage(first=10, after=everything.cursors[3]))

    assert emails(window) == ["w4@example.com", "w5@example.com"]
    assert (window.has_next_page, window.has_previous_page) == (False, True)


async def test_first_zero_returns_no_items_but_tells_whether_any_exist() -> None:
    await service.create_user(email="a@example.com", actor=SYSTEM)

    result = await service.find_users(page=CursorPage(first=0), with_total=True)

    assert result.items == [] and result.has_next_page is True and result.total_count == 1


async def test_offset_pages_cover_every_row_once() -> None:
    users = await insert_users_at(T0, [f"p{i:02}@example.com" for i in range(11)])

    pages = [
        await service.find_users(page=OffsetPage(page=n, limit=4), with_total=True)
        for n in (1, 2, 3, 4)
    ]

    assert [len(p.items) for p in pages] == [4, 4, 3, 0]
    assert [(p.has_previous_page, p.has_next_page) for p in pages[:3]] == [(False, True), (True, True), (True, False)]
    assert {u.id for p in pages for u in p.items} == {u.id for u in users}
    assert all(p.total_count == 11 for p in pages)


async def test_offset_page_cursors_continue_as_keyset_pages() -> None:
    await insert_users_at(T0, [f"k{i}@example.com" for i in range(6)])
    sort = BY_EMAIL

    offset = await service.find_users(sort=sort, page=OffsetPage(page=1, limit=2))
    keyset = await service.find_users(sort=sort, page=CursorPage(first=2, after=offset.cursors[-1]))

    assert emails(keyset) == ["k2@example.com", "k3@example.com"]


@pytest.mark.parametrize(
    "page",
    [
        OffsetPage(page=0),
        OffsetPage(limit=101),
        CursorPage(first=101),
        CursorPage(first=1, last=1),
        CursorPage(after="%%%"),
    ],
)
async def test_invalid_pages_are_rejected(page: OffsetPage | CursorPage) -> None:
    with pytest.raises(ValidationFailed):
        await service.find_users(page=page)


async def test_a_cursor_only_works_for_the_sort_it_was_made_for() -> None:
    await service.create_user(email="a@example.com", name="A", actor=SYSTEM)
    await service.create_user(email="b@example.com", name="B", actor=SYSTEM)
    by_email = await service.find_users(sort=BY_EMAIL, page=CursorPage(first=1))

    with pytest.raises(ValidationFailed) as caught:
        await service.find_users(sort=UserSort(UserSortField.NAME), page=CursorPage(after=by_email.cursors[0]))
    with pytest.raises(ValidationFailed):
        await service.find_users(
            sort=UserSort(UserSortField.EMAIL, SortDirection.DESC), page=CursorPage(before=by_email.cursors[0])
        )

    assert caught.value.errors[0].field == "after"


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        (UserSort(), ["CREATED_AT:DESC", "not a date", str(ObjectId())]),
        (UserSort(), ["CREATED_AT:DESC", T0.isoformat(), "junk"]),
        (UserSort(), ["CREATED_AT:DESC"]),
        (BY_EMAIL, ["EMAIL:ASC", {"$gt": ""}, str(ObjectId())]),  # an operator smuggled in as the sort value
    ],
)
async def test_a_forged_cursor_is_a_validation_error_not_a_crash(sort: UserSort, values: list) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.find_users(sort=sort, page=CursorPage(after=encode_cursor(values)))

    assert caught.value.errors[0].field == "after"
