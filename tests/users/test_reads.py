"""get_user, get_users_by_ids (the users_by_id loader's batch), existing_user_ids, get_user_by_email."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from app.auth.principal import SYSTEM
from app.users import service
from app.users.documents import User
from app.users.records import USER_RECORD, ProfileRecord, UserRecord
from tests.users.conftest import CommandLog
from tests.users.helpers import insert_users_at


@pytest.mark.parametrize("user_id", ["", "nope", "0123456789abcdef0123456z", "{'$ne': null}", "0" * 25])
async def test_get_user_with_an_invalid_id_is_none(user_id: str) -> None:
    await service.create_user(email="someone@example.com", actor=SYSTEM)

    assert await service.get_user(user_id=user_id) is None


async def test_get_user_finds_by_id_and_missing_is_none() -> None:
    user = await service.create_user(email="a@example.com", actor=SYSTEM)

    found = await service.get_user(user_id=str(user.id))

    assert found is not None and found.email == "a@example.com"
    assert await service.get_user(user_id=str(ObjectId())) is None


async def test_users_by_ids_keep_key_order_with_none_for_missing_in_one_find(mongo_commands: CommandLog) -> None:
    a = await service.create_user(email="a@example.com", actor=SYSTEM)
    b = await service.create_user(email="b@example.com", actor=SYSTEM)
    c = await service.create_user(email="c@example.com", actor=SYSTEM)
    missing = str(ObjectId())
    mongo_commands.commands.clear()

    users = await service.get_users_by_ids(ids=[str(c.id), missing, str(a.id), "junk", str(c.id), str(b.id)])

    assert [u.email if u else None for u in users] == [
        "c@example.com",
        None,
        "a@example.com",
        None,
        "c@example.com",
        "b@example.com",
    ]
    assert mongo_commands.commands == ["find"]


async def test_users_by_ids_without_a_valid_id_sends_nothing(mongo_commands: CommandLog) -> None:
    mongo_commands.commands.clear()

    assert await service.get_users_by_ids(ids=["junk", ""]) == [None, None]
    assert await service.get_users_by_ids(ids=[]) == []
    assert mongo_commands.commands == []


async def test_users_by_ids_are_read_models_of_the_fields_shown_in_one_projected_find(
    mongo_commands: CommandLog,
) -> None:
    a = await service.create_user(email="a@example.com", name="Ann", bio="Hi", settings={"theme": "dark"}, actor=SYSTEM)
    b = await service.create_user(email="b@example.com", actor=SYSTEM)
    missing = str(ObjectId())
    mongo_commands.commands.clear()
    mongo_commands.sent.clear()

    records = await service.get_users_by_ids(ids=[str(b.id), missing, "junk", str(a.id), str(b.id)])

    assert [r.email if r else None for r in records] == ["b@example.com", None, None, "a@example.com", "b@example.com"]
    first = records[3]
    assert isinstance(first, UserRecord)
    assert (first.id, first.name, first.avatar) == (a.id, "Ann", None)
    assert first.profile == ProfileRecord(bio="Hi", timezone="UTC", settings={"theme": "dark"})
    assert (first.created_at, first.updated_at) == (a.created_at, a.updated_at)
    assert mongo_commands.commands == ["find"]
    # Only the read model's fields are asked for.
    assert set(mongo_commands.sent[0]["projection"]) == {
        "_id", "email", "name", "avatar", "profile", "created_at", "updated_at"
    }


async def test_users_by_ids_of_one_id_ask_by_equality(mongo_commands: CommandLog) -> None:
    user = await service.create_user(email="one@example.com", actor=SYSTEM)
    mongo_commands.sent.clear()

    [record] = await service.get_users_by_ids(ids=[str(user.id)])

    assert record is not None and record.email == "one@example.com"
    assert mongo_commands.sent[0]["filter"] == {"_id": user.id}


async def test_users_by_ids_of_fifty_ids_are_exactly_those_users_in_one_in_find(mongo_commands: CommandLog) -> None:
    stamp = datetime(2024, 6, 1, tzinfo=UTC)
    users = await insert_users_at(stamp, [f"u{i:03}@example.com" for i in range(120)])
    by_id = {str(user.id): user.email for user in users}
    wanted = [str(user.id) for user in users[::3]][:40]  # 40 of the 120, spread over the collection
    missing = [str(ObjectId()) for _ in range(5)]
    keys = wanted[:20] + missing[:3] + wanted[20:] + missing[3:] + [wanted[0], wanted[39], wanted[7]] + ["junk", ""]
    assert len(keys) == 50
    mongo_commands.sent.clear()

    records = await service.get_users_by_ids(ids=keys)

    assert [r.email if r else None for r in records] == [by_id.get(key) for key in keys]
    assert [str(r.id) for r in records if r] == [key for key in keys if key in by_id]
    [find] = mongo_commands.sent
    assert sorted(map(str, find["filter"]["_id"]["$in"])) == sorted(wanted + missing)


async def test_users_by_ids_read_a_missing_or_null_profile_as_the_default() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    stored = {"email": "old@example.com", "created_at": now, "updated_at": now}
    ids = [ObjectId(), ObjectId(), ObjectId()]
    await User.get_pymongo_collection().insert_many([
        {"_id": ids[0], **stored},
        {"_id": ids[1], **stored, "email": "null@example.com", "profile": None},
        {"_id": ids[2], **stored, "email": "nulls@example.com", "profile": {"timezone": None, "settings": None}},
    ])

    records = await service.get_users_by_ids(ids=[str(oid) for oid in ids])

    assert [r.profile if r else None for r in records] == [ProfileRecord()] * 3
    assert all(r is not None and (r.name, r.avatar, r.created_at) == (None, None, now) for r in records)


async def test_user_records_survive_the_cache_codec_unchanged() -> None:
    user = await service.create_user(
        email="c@example.com", name="Cy", avatar="https://example.com/c.png", bio="x", timezone="Europe/Paris",
        settings={"nested": {"list": [1, 2.5, None, "s"]}}, actor=SYSTEM,
    )
    [record] = await service.get_users_by_ids(ids=[str(user.id)])
    assert record is not None

    back = USER_RECORD.load(USER_RECORD.dump(record))

    assert back == record
    assert back.created_at.utcoffset() == record.created_at.utcoffset()
    assert back.created_at.isoformat() == record.created_at.isoformat()


async def test_existing_user_ids_is_one_query_over_the_given_ids(mongo_commands: CommandLog) -> None:
    a = await service.create_user(email="a@example.com", actor=SYSTEM)
    b = await service.create_user(email="b@example.com", actor=SYSTEM)
    missing = str(ObjectId())
    mongo_commands.commands.clear()

    existing = await service.existing_user_ids(ids=iter([str(a.id), missing, "junk", str(b.id)]))

    assert existing == {str(a.id), str(b.id)}
    assert mongo_commands.commands == ["find"]


async def test_get_user_by_email_is_case_insensitive_and_invalid_is_none() -> None:
    user = await service.create_user(email="Mixed.Case@Example.com", actor=SYSTEM)

    assert (await service.get_user_by_email(email="mixed.case@example.com")).id == user.id
    assert (await service.get_user_by_email(email=" MIXED.CASE@EXAMPLE.COM ")).id == user.id
    assert await service.get_user_by_email(email="other@example.com") is None
    assert await service.get_user_by_email(email="not an email") is None
