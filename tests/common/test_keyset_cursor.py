"""The one keyset-cursor codec: the sort's token, a typed sort-key value and the row id, validated on the way back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from app.common.errors import ValidationFailed
from app.common.pagination import KeysetCursor, encode_cursor, int_key, timestamp_key

BY_DUE = KeysetCursor("due_date:asc", timestamp_key, UUID, nullable=True)
BY_RANK = KeysetCursor("priority:desc", int_key, UUID)


def test_a_cursor_gives_back_the_typed_value_and_id() -> None:
    row_id = uuid4()
    due = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert BY_DUE.decode(BY_DUE.encode(due, row_id), field_name="after") == (due, row_id)
    assert BY_DUE.decode(BY_DUE.encode(None, row_id), field_name="after") == (None, row_id)
    assert BY_RANK.decode(BY_RANK.encode(3, row_id), field_name="before") == (3, row_id)


def test_a_naive_timestamp_in_a_cursor_is_utc() -> None:
    row_id = uuid4()
    cursor = encode_cursor(["due_date:asc", "2030-01-01T00:00:00", str(row_id)])
    assert BY_DUE.decode(cursor, field_name="after") == (datetime(2030, 1, 1, tzinfo=UTC), row_id)


@pytest.mark.parametrize(
    ("codec", "values", "message"),
    [
        (BY_DUE, ["priority:desc", 3, str(uuid4())], "cursor does not belong to this sort order"),
        (BY_RANK, ["priority:desc", None, str(uuid4())], "invalid cursor"),  # not nullable
        (BY_RANK, ["priority:desc", "3", str(uuid4())], "invalid cursor"),  # a string is no rank
        (BY_RANK, ["priority:desc", True, str(uuid4())], "invalid cursor"),
        (BY_DUE, ["due_date:asc", "yesterday", str(uuid4())], "invalid cursor"),
        (BY_DUE, ["due_date:asc", None, "not-a-uuid"], "invalid cursor"),
        (BY_DUE, ["due_date:asc", None, 7], "invalid cursor"),
        (BY_DUE, ["due_date:asc", None], "invalid cursor"),
    ],
)
def test_a_forged_cursor_is_a_validation_error(codec: KeysetCursor, values: list, message: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        codec.decode(encode_cursor(values), field_name="after")
    assert [(e.field, e.message) for e in error.value.errors] == [("after", message)]


def test_garbage_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as error:
        BY_RANK.decode("%%%not base64", field_name="before")
    assert [(e.field, e.message) for e in error.value.errors] == [("before", "invalid cursor")]
