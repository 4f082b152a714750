"""create_user, update_user, update_settings: validation before writes, conflicts, timestamps, change notices."""

from __future__ import annotations

import asyncio

import pytest

from app.auth.principal import SYSTEM
from app.common.changes import Change, ChangeKind, Entity
from app.common.errors import Conflict, NotFound, ValidationFailed
from app.users import service
from app.users.documents import BIO_MAX, NAME_MAX, SETTINGS_MAX_BYTES, User


def fields_of(error: ValidationFailed) -> list[str]:
    return [e.field for e in error.errors]


async def test_email_is_trimmed_and_lower_cased() -> None:
    user = await service.create_user(email="  Ada.Lovelace@Example.COM ", actor=SYSTEM)

    stored = await User.get(user.id)
    assert stored is not None and stored.email == "ada.lovelace@example.com"
    assert (await service.get_user_by_email(email="ADA.LOVELACE@example.com ")).id == user.id


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@b", "two@@example.com", "sp ace@example.com", "x" * 250 + "@e.io"]
)
async def test_invalid_email_is_rejected_without_a_write(email: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.create_user(email=email, actor=SYSTEM)

    assert fields_of(caught.value) == ["email"]
    assert await User.count() == 0


async def test_duplicate_email_is_a_conflict_whatever_its_case() -> None:
    await service.create_user(email="dup@example.com", actor=SYSTEM)

    with pytest.raises(Conflict):
        await service.create_user(email="dup@example.com", actor=SYSTEM)
    with pytest.raises(Conflict) as caught:
        await service.create_user(email=" DUP@Example.com", actor=SYSTEM)

    assert caught.value.code == "CONFLICT"
    assert await User.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "x" * (NAME_MAX + 1)}, "name"),
        ({"name": "line\nbreak"}, "name"),
        ({"avatar": "ftp://example.com/a.png"}, "avatar"),
        ({"avatar": "javascript:alert(1)"}, "avatar"),
        ({"bio": "b" * (BIO_MAX + 1)}, "profile.bio"),
        ({"bio": "nul\x00byte"}, "profile.bio"),
        ({"timezone": "Mars/Olympus"}, "profile.timezone"),
        ({"timezone": " UTC"}, "profile.timezone"),
        ({"timezone": None}, "profile.timezone"),
        ({"settings": ["not", "an", "object"]}, "profile.settings"),
    ],
)
async def test_invalid_fields_are_rejected_before_any_write(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.create_user(email="valid@example.com", **kwargs, actor=SYSTEM)

    assert fields_of(caught.value) == [field]
    assert caught.value.extensions["fields"][0]["field"] == field
    assert await User.count() == 0


async def test_every_invalid_field_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.create_user(
            email="nope", name="n" * 500, avatar="nope", bio="\x01", timezone="Nowhere", actor=SYSTEM,
        )

    assert fields_of(caught.value) == ["email", "name", "avatar", "profile.bio", "profile.timezone"]


async def test_valid_profile_is_stored_as_given() -> None:
    user = await service.create_user(
        email="grace@example.com",
        name="  Grace Hopper ",
        avatar="https://example.com/g.png",
        bio="Admiral.\nCompiler pioneer.",
        timezone="America/New_York",
        settings={"theme": "dark", "layout": {"columns": [1, 2, 3]}},
        actor=SYSTEM,
    )

    stored = await User.get(user.id)
    assert stored is not None
    assert (stored.name, stored.avatar) == ("Grace Hopper", "https://example.com/g.png")
    assert stored.profile.bio == "Admiral.\nCompiler pioneer."
    assert stored.profile.timezone == "America/New_York"
    assert stored.profile.settings == {"theme": "dark", "layout": {"columns": [1, 2, 3]}}


@pytest.mark.parametrize(
    "unsafe",
    [
        {"$where": "sleep(1000)"},
        {"filters": {"age": {"$gt": ""}}},
        {"list": [{"$ne": None}]},
        {"a.b": 1},
        {"nul\x00key": 1},
        {"": 1},
        {1: "non-string key"},
        {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": 1}}}}}}}}}}},
        {"big": "x" * SETTINGS_MAX_BYTES},
        {"nan": float("nan")},
        {"huge": 2**64},
        {"object": object()},
    ],
)
async def test_unsafe_or_oversized_settings_are_rejected(unsafe: dict) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.create_user(email="s@example.com", settings=unsafe, actor=SYSTEM)

    assert fields_of(caught.value) == ["profile.settings"]
    assert await User.count() == 0


async def test_operator_like_values_are_stored_as_plain_data() -> None:
    settings = {"query": "$where", "op": ["$gt", "$ne"], "nested": {"text": "{'$gt': ''}", "ok": None}}

    user = await service.create_user(email="plain@example.com", settings=settings, actor=SYSTEM)

    stored = await User.get(user.id)
    assert stored is not None and stored.profile.settings == settings
    raw = await User.get_pymongo_collection().find_one({"_id": user.id})
    assert raw["profile"]["settings"] == settings


async def test_create_stamps_both_timestamps_and_emits_created(emitted: list[Change]) -> None:
    user = await service.create_user(email="t@example.com", actor=SYSTEM)

    assert user.created_at == user.updated_at
    assert user.created_at.tzinfo is not None
    assert emitted == [Change(Entity.USER, ChangeKind.CREATED, ids=(str(user.id),), fields=service.USER_FIELDS)]


async def test_update_changes_only_the_given_fields_and_none_clears() -> None:
    user = await service.create_user(
        email="p@example.com", name="Pat", avatar="https://example.com/p.png", bio="Hi", timezone="Europe/Paris",
        actor=SYSTEM,
    )

    updated = await service.update_user(user_id=str(user.id), name="Patricia", avatar=None, actor=SYSTEM)

    assert (updated.name, updated.avatar) == ("Patricia", None)
    assert (updated.email, updated.profile.bio, updated.profile.timezone) == ("p@example.com", "Hi", "Europe/Paris")
    stored = await User.get(user.id)
    assert stored is not None and (stored.name, stored.avatar, stored.profile.bio) == ("Patricia", None, "Hi")


async def test_update_bumps_updated_at_and_keeps_created_at(emitted: list[Change]) -> None:
    user = await service.create_user(email="time@example.com", name="Old", actor=SYSTEM)
    await asyncio.sleep(0.01)

    updated = await service.update_user(user_id=str(user.id), name="New", timezone="Asia/Tokyo", actor=SYSTEM)

    stored = await User.get(user.id)
    assert stored is not None
    assert stored.created_at == user.created_at
    assert stored.updated_at > user.updated_at
    assert updated.updated_at == stored.updated_at
    assert emitted[-1] == Change(
        Entity.USER, ChangeKind.UPDATED, ids=(str(user.id),), fields=("name", "profile.timezone")
    )


async def test_update_with_unchanged_values_writes_nothing(emitted: list[Change]) -> None:
    user = await service.create_user(email="same@example.com", name="Same", actor=SYSTEM)
    emitted.clear()

    result = await service.update_user(user_id=str(user.id), email="SAME@example.com", name="Same", actor=SYSTEM)

    assert result.updated_at == user.updated_at
    assert emitted == []


async def test_update_validates_before_writing() -> None:
    user = await service.create_user(email="v@example.com", name="Valid", actor=SYSTEM)

    with pytest.raises(ValidationFailed) as caught:
        await service.update_user(user_id=str(user.id), name="Fine", email=None, bio="x" * (BIO_MAX + 1), actor=SYSTEM)

    assert fields_of(caught.value) == ["email", "profile.bio"]
    stored = await User.get(user.id)
    assert stored is not None and stored.name == "Valid"


async def test_update_to_a_taken_email_is_a_conflict() -> None:
    await service.create_user(email="taken@example.com", actor=SYSTEM)
    user = await service.create_user(email="mine@example.com", actor=SYSTEM)

    with pytest.raises(Conflict):
        await service.update_user(user_id=str(user.id), email="Taken@Example.com", actor=SYSTEM)

    stored = await User.get(user.id)
    assert stored is not None and stored.email == "mine@example.com"


@pytest.mark.parametrize("user_id", ["0123456789abcdef01234567", "not-an-id"])
async def test_update_of_a_missing_user_is_not_found(user_id: str) -> None:
    with pytest.raises(NotFound):
        await service.update_user(user_id=user_id, name="Nobody", actor=SYSTEM)
    with pytest.raises(NotFound):
        await service.update_settings(user_id=user_id, settings={}, mode="merge", actor=SYSTEM)


async def test_replace_settings_sets_exactly_the_given_object(emitted: list[Change]) -> None:
    user = await service.create_user(email="r@example.com", settings={"theme": "dark", "lang": "en"}, actor=SYSTEM)
    await asyncio.sleep(0.01)

    updated = await service.update_settings(
        user_id=str(user.id), settings={"theme": "light", "x": None}, mode="replace", actor=SYSTEM
    )

    assert updated.profile.settings == {"theme": "light", "x": None}
    assert updated.updated_at > user.updated_at
    assert emitted[-1] == Change(Entity.USER, ChangeKind.UPDATED, ids=(str(user.id),), fields=("profile.settings",))


async def test_merge_settings_is_shallow_and_null_removes_a_key() -> None:
    user = await service.create_user(
        email="m@example.com", settings={"theme": "dark", "lang": "en", "layout": {"a": 1, "b": 2}}, actor=SYSTEM
    )

    updated = await service.update_settings(
        user_id=str(user.id), settings={"lang": None, "layout": {"a": 9}, "new": [1]}, mode="merge", actor=SYSTEM
    )

    expected = {"theme": "dark", "layout": {"a": 9}, "new": [1]}
    assert updated.profile.settings == expected
    stored = await User.get(user.id)
    assert stored is not None and stored.profile.settings == expected


async def test_settings_updates_reject_operator_keys_and_oversized_results() -> None:
    user = await service.create_user(
        email="o@example.com", settings={"a": "x" * (SETTINGS_MAX_BYTES - 100)}, actor=SYSTEM,
    )

    with pytest.raises(ValidationFailed):
        await service.update_settings(
            user_id=str(user.id), settings={"$set": {"email": "x@y.z"}}, mode="merge", actor=SYSTEM,
        )
    with pytest.raises(ValidationFailed):
        await service.update_settings(
            user_id=str(user.id), settings={"profile.bio": "hi"}, mode="replace", actor=SYSTEM,
        )
    with pytest.raises(ValidationFailed) as caught:
        await service.update_settings(user_id=str(user.id), settings={"b": "y" * 200}, mode="merge", actor=SYSTEM)
    with pytest.raises(ValidationFailed):
        await service.update_settings(
            user_id=str(user.id), settings={}, mode="append", actor=SYSTEM,
        )  # type: ignore[arg-type]

    assert fields_of(caught.value) == ["profile.settings"]
    stored = await User.get(user.id)
    assert stored is not None
    assert stored.email == "o@example.com" and stored.profile.bio is None
    assert list(stored.profile.settings) == ["a"]
