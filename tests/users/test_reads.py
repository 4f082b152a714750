"""get_user, get_users_by_ids (the users_by_id loader's batch), existing_user_ids, get_user_by_email."""

from __future__ import annotations

import pytest
from bson import ObjectId

from app.auth.principal import SYSTEM
from app.users import service
from tests.users.conftest import CommandLog


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
