"""Tag and user queries and mutations over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.graphql.test_tasks_api import create_tag, create_task, create_user
from tests.support.graphql import codes, gql

USER_FIELDS = "id email name avatar createdAt updatedAt profile { bio timezone settings }"


async def test_tag_lifecycle_and_conflicts(client: httpx.AsyncClient) -> None:
    bug = await create_tag(client, "bug", "#AA0000")
    dup = await gql(client, 'mutation { createTag(name: "BUG", color: "#000000") { id } }')
    assert codes(dup) == ["CONFLICT"]
    bad = await gql(client, 'mutation { createTag(name: "x", color: "red") { id } }')
    assert codes(bad) == ["VALIDATION_FAILED"]

    await create_task(client, tagIds=[bug])
    listed = await gql(client, "{ tags { taskCount tag { name color } } }")
    assert listed["data"]["tags"] == [{"taskCount": 1, "tag": {"name": "bug", "color": "#aa0000"}}]

    renamed = await gql(client, 'mutation($id: ID!) { updateTag(id: $id, input: {name: "defect"}) { name color } }',
                        {"id": bug})
    assert renamed["data"]["updateTag"] == {"name": "defect", "color": "#aa0000"}
    assert (await gql(client, "query($id: ID!) { tag(id: $id) { name } }", {"id": bug}))["data"]["tag"] == {"name": "defect"}

    assert (await gql(client, "mutation($id: ID!) { deleteTag(id: $id) }", {"id": bug}))["data"] == {"deleteTag": True}
    assert codes(await gql(client, "mutation($id: ID!) { deleteTag(id: $id) }", {"id": bug})) == ["NOT_FOUND"]
    assert (await gql(client, "query($id: ID!) { tag(id: $id) { name } }", {"id": bug}))["data"] == {"tag": None}


async def test_user_lifecycle(client: httpx.AsyncClient) -> None:
    created = await gql(
        client, f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ {USER_FIELDS} }} }}",
        {"i": {"email": "  Grace@Example.COM ", "name": " Grace ", "timezone": "Europe/Paris",
               "settings": {"theme": "dark", "$where": "x"}}},
    )
    assert codes(created) == ["VALIDATION_FAILED"]  # operator-like keys are refused

    created = await gql(
        client, f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ {USER_FIELDS} }} }}",
        {"i": {"email": "  Grace@Example.COM ", "name": " Grace ", "timezone": "Europe/Paris",
               "settings": {"theme": "dark", "filter": {"$gt": 1}}}},
    )
    assert codes(created) == ["VALIDATION_FAILED"]  # at any depth

    created = await gql(
        client, f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ {USER_FIELDS} }} }}",
        {"i": {"email": "  Grace@Example.COM ", "name": " Grace ", "timezone": "Europe/Paris",
               "settings": {"theme": "dark", "filter": ["$gt", {"op": "$where"}]}}},
    )
    user = created["data"]["createUser"]
    assert (user["email"], user["name"]) == ("grace@example.com", "Grace")
    # Operator-looking values are plain data.
    assert user["profile"] == {
        "bio": None, "timezone": "Europe/Paris", "settings": {"theme": "dark", "filter": ["$gt", {"op": "$where"}]}
    }

    dup = await gql(client, 'mutation { createUser(input: {email: "GRACE@example.com"}) { id } }')
    assert codes(dup) == ["CONFLICT"]

    by_email = await gql(client, 'query { userByEmail(email: "GRACE@EXAMPLE.COM") { id } }')
    assert by_email["data"]["userByEmail"]["id"] == user["id"]

    updated = await gql(
        client, "mutation($id: ID!) { updateUser(id: $id, input: {bio: \"hi\", name: null}) { name profile { bio } } }",
        {"id": user["id"]},
    )
    assert updated["data"]["updateUser"] == {"name": None, "profile": {"bio": "hi"}}
    bad_tz = await gql(client, 'mutation($id: ID!) { updateUser(id: $id, input: {timezone: "Mars/Base"}) { id } }',
                       {"id": user["id"]})
    assert codes(bad_tz) == ["VALIDATION_FAILED"]

    merged = await gql(
        client, "mutation($id: ID!, $s: JSON!) { updateUserSettings(id: $id, settings: $s) { profile { settings } } }",
        {"id": user["id"], "s": {"lang": "fr", "theme": None}},
    )
    assert merged["data"]["updateUserSettings"]["profile"]["settings"] == {"filter": ["$gt", {"op": "$where"}], "lang": "fr"}
    replaced = await gql(
        client,
        "mutation($id: ID!, $s: JSON!) { updateUserSettings(id: $id, settings: $s, mode: REPLACE) { profile { settings } } }",
        {"id": user["id"], "s": {"only": True}},
    )
    assert replaced["data"]["updateUserSettings"]["profile"]["settings"] == {"only": True}
    not_object = await gql(client, "mutation($id: ID!) { updateUserSettings(id: $id, settings: [1, 2]) { id } }",
                           {"id": user["id"]})
    assert codes(not_object) == ["VALIDATION_FAILED"]

    task = await create_task(client, assigneeId=user["id"])
    assert (await gql(client, "mutation($id: ID!) { deleteUser(id: $id) }", {"id": user["id"]}))["data"] == {"deleteUser": True}
    assert codes(await gql(client, "mutation($id: ID!) { deleteUser(id: $id) }", {"id": user["id"]})) == ["NOT_FOUND"]
    orphan = await gql(client, "query($id: ID!) { task(id: $id) { assigneeId assignee { id } } }", {"id": task["id"]})
    assert orphan["data"]["task"] == {"assigneeId": None, "assignee": None}
    assert (await gql(client, "query($id: ID!) { user(id: $id) { id } }", {"id": user["id"]}))["data"] == {"user": None}


async def test_users_list_stats_and_tasks_connection(client: httpx.AsyncClient) -> None:
    ids = [await create_user(client, f"u{i}@example.com", f"User {i}") for i in range(3)]
    await create_task(client, assigneeId=ids[0], status="COMPLETED")
    await create_task(client, assigneeId=ids[0])
    await create_task(client, assigneeId=ids[1])

    page = await gql(client, "{ users(sort: NAME_ASC, first: 2) { totalCount nodes { name } pageInfo { hasNextPage } } }")
    assert page["data"]["users"] == {"totalCount": 3, "nodes": [{"name": "User 0"}, {"name": "User 1"}],
                                     "pageInfo": {"hasNextPage": True}}
    offset = await gql(client, "{ users(sort: NAME_ASC, page: 2, limit: 2) { nodes { name } } }")
    assert offset["data"]["users"]["nodes"] == [{"name": "User 2"}]
    searched = await gql(client, '{ users(filter: {search: "u1@"}) { nodes { email } } }')
    assert searched["data"]["users"]["nodes"] == [{"email": "u1@example.com"}]

    stats = await gql(client, "query($ids: [ID!]) { userStats(userIds: $ids) { userId taskCount completedCount user { name } } }",
                      {"ids": ids})
    assert stats["data"]["userStats"] == [
        {"userId": ids[0], "taskCount": 2, "completedCount": 1, "user": {"name": "User 0"}},
        {"userId": ids[1], "taskCount": 1, "completedCount": 0, "user": {"name": "User 1"}},
        {"userId": ids[2], "taskCount": 0, "completedCount": 0, "user": {"name": "User 2"}},
    ]
    nested = await gql(client, "query($id: ID!) { user(id: $id) { tasks(first: 1) { totalCount nodes { status } pageInfo { hasNextPage } } } }",
                       {"id": ids[0]})
    assert nested["data"]["user"]["tasks"]["totalCount"] == 2
    assert nested["data"]["user"]["tasks"]["pageInfo"]["hasNextPage"] is True
    between = await gql(client, 'query { usersWithTasksCreatedBetween(start: "2000-01-01T00:00:00Z", end: "2100-01-01T00:00:00Z") { email } }')
    assert sorted(u["email"] for u in between["data"]["usersWithTasksCreatedBetween"]) == ["u0@example.com", "u1@example.com"]


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "", "x" * 300 + "@example.com"])
async def test_invalid_emails_are_rejected(client: httpx.AsyncClient, email: str) -> None:
    body = await gql(client, "mutation($e: String!) { createUser(input: {email: $e}) { id } }", {"e": email})
    assert codes(body) == ["VALIDATION_FAILED"]
