"""What members read: every live task, tag and user's public fields; emails only their own, on every path
(single lookups, lists, nested fields, stats, cached entries); no searching or sorting by email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.access.world import Member, World
from tests.support.graphql import codes, gql


async def as_(client: httpx.AsyncClient, who: Member, query: str, variables: dict | None = None) -> dict:
    client.headers.update(who.headers())
    body = await gql(client, query, variables)
    assert "errors" not in body, body
    return body["data"]


USER = "query($id: ID!) { user(id: $id) { id name email } }"


@pytest.mark.parametrize(
    ("reader", "subject", "sees_email"),
    [("alice", "alice", True), ("alice", "bob", False), ("root", "bob", True), ("bob", "root", False)],
)
async def test_a_users_email_is_visible_to_that_user_and_admins(
    client: httpx.AsyncClient, world: World, reader: str, subject: str, sees_email: bool
) -> None:
    who = world.member(subject)
    user = (await as_(client, world.member(reader), USER, {"id": who.id}))["user"]
    assert user["id"] == who.id and user["name"]  # public fields for everyone
    assert user["email"] == (who.email if sees_email else None)


async def test_emails_are_shaped_on_every_path(client: httpx.AsyncClient, world: World) -> None:
    ids = [world.alice.id, world.bob.id]
    query = """query($ids: [ID!], $task: ID!, $start: DateTime!, $end: DateTime!) {
      users(filter: {ids: $ids}, first: 10) { totalCount nodes { id email } edges { node { id email } } }
      task(id: $task) { assignee { id email } }
      userStats(userIds: $ids) { user { id email } }
      usersWithTasksCreatedBetween(start: $start, end: $end) { id email }
      me { email }
    }"""
    now = datetime.now(UTC)
    variables = {"ids": ids, "task": world.bobs_task, "start": (now - timedelta(hours=1)).isoformat(),
                 "end": (now + timedelta(hours=1)).isoformat()}

    data = await as_(client, world.alice, query, variables)

    emails = {world.alice.id: world.alice.email, world.bob.id: None}
    assert data["users"]["totalCount"] == 2
    assert {n["id"]: n["email"] for n in data["users"]["nodes"]} == emails
    assert {e["node"]["id"]: e["node"]["email"] for e in data["users"]["edges"]} == emails
    assert data["task"]["assignee"] == {"id": world.bob.id, "email": None}
    assert {s["user"]["id"]: s["user"]["email"] for s in data["userStats"]} == emails
    assert {u["id"]: u["email"] for u in data["usersWithTasksCreatedBetween"]} == {world.bob.id: None}
    assert data["me"] == {"email": world.alice.email}


@pytest.mark.parametrize("first_reader", ["root", "alice"])
async def test_cached_entries_never_widen_a_narrower_callers_view(
    client: httpx.AsyncClient, world: World, first_reader: str
) -> None:
    # Given one caller filled the cache for this exact page and user
    page = "query($ids: [ID!]) { users(filter: {ids: $ids}) { nodes { id email } } }"
    variables = {"ids": [world.bob.id]}
    await as_(client, world.member(first_reader), page, variables)
    await as_(client, world.member(first_reader), USER, {"id": world.bob.id})

    # When the other caller reads the same things (served from the same cache entries)
    as_member = await as_(client, world.alice, page, variables)
    as_admin = await as_(client, world.root, page, variables)

    # Then each sees what their own rights allow
    assert as_member["users"]["nodes"] == [{"id": world.bob.id, "email": None}]
    assert as_admin["users"]["nodes"] == [{"id": world.bob.id, "email": world.bob.email}]
    assert (await as_(client, world.alice, USER, {"id": world.bob.id}))["user"]["email"] is None
    assert (await as_(client, world.root, USER, {"id": world.bob.id}))["user"]["email"] == world.bob.email


async def test_members_cannot_find_users_by_email(client: httpx.AsyncClient, world: World) -> None:
    search = "query($s: String) { users(filter: {search: $s}) { totalCount nodes { id } } }"
    local_part = world.bob.email.split("@")[0]  # "bob-<suffix>": not in bob's name ("Bob <suffix>")

    assert (await as_(client, world.alice, search, {"s": local_part}))["users"]["totalCount"] == 0
    assert (await as_(client, world.root, search, {"s": local_part}))["users"]["nodes"] == [{"id": world.bob.id}]
    by_name = await as_(client, world.alice, search, {"s": world.bob.email.split("-")[1].split("@")[0]})
    assert world.bob.id in [n["id"] for n in by_name["users"]["nodes"]]  # names are public


async def test_user_by_email_finds_only_yourself_unless_admin(client: httpx.AsyncClient, world: World) -> None:
    lookup = "query($e: String!) { userByEmail(email: $e) { id email } }"
    assert (await as_(client, world.alice, lookup, {"e": world.bob.email}))["userByEmail"] is None
    assert (await as_(client, world.alice, lookup, {"e": world.alice.email.upper()}))["userByEmail"] == {
        "id": world.alice.id, "email": world.alice.email
    }
    assert (await as_(client, world.root, lookup, {"e": world.bob.email}))["userByEmail"]["id"] == world.bob.id


async def test_members_and_admins_count_the_same_live_tasks(client: httpx.AsyncClient, world: World) -> None:
    query = "{ tasks(first: 100) { totalCount nodes { id creatorId } } }"
    member, admin = await as_(client, world.alice, query), await as_(client, world.root, query)
    assert member["tasks"]["totalCount"] == admin["tasks"]["totalCount"]
    creators = {n["id"]: n["creatorId"] for n in member["tasks"]["nodes"]}
    assert creators[world.alices_task] == world.alice.id and creators[world.roots_task] == world.root.id
    assert world.alices_deleted_task not in creators


async def test_members_may_not_page_users_by_email_even_through_cursors(client: httpx.AsyncClient,
                                                                       world: World) -> None:
    client.headers.update(world.alice.headers())
    for sort in ("EMAIL_ASC", "EMAIL_DESC"):
        body = await gql(client, f"{{ users(sort: {sort}, first: 1) {{ edges {{ cursor }} }} }}")
        assert codes(body) == ["FORBIDDEN"]
