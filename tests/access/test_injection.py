"""Hostile input is data: search text, filters, ids, cursors, sort keys and JSON settings never change a
SQL or Mongo query's structure, and text no store can hold is refused up front instead of crashing."""

from __future__ import annotations

import base64

import httpx
import orjson
import pytest

from tests.access.world import World
from tests.support.graphql import GRAPHQL_RESPONSE, codes, gql

TASK_SEARCH = "query($s: String) { tasks(filter: {search: $s}, first: 100) { totalCount nodes { title } } }"


async def titles(client: httpx.AsyncClient, search: str) -> list[str]:
    body = await gql(client, TASK_SEARCH, {"s": search})
    assert "errors" not in body, body
    return sorted(n["title"] for n in body["data"]["tasks"]["nodes"])


async def test_search_text_is_literal_sql_data(client: httpx.AsyncClient, world: World) -> None:
    for title in ("100% done", "under_score", "back\\slash"):
        await gql(client, "mutation($t: String!) { createTask(input: {title: $t}) { id } }", {"t": title})
    assert await titles(client, "%") == ["100% done"]
    assert await titles(client, "_") == ["under_score"]
    assert await titles(client, "\\") == ["back\\slash"]
    for hostile in ("' OR '1'='1", "'; DROP TABLE tasks; --", "%' OR 1=1 --", "$where"):
        assert await titles(client, hostile) == []
    assert (await gql(client, "{ tasks { totalCount } }"))["data"]["tasks"]["totalCount"] == 6


@pytest.mark.parametrize("names", [["' OR '1'='1"], ["x') OR TRUE --"], ["%"]])
async def test_tag_filters_are_data(client: httpx.AsyncClient, world: World, names: list[str]) -> None:
    for key in ("tagsAny", "tagsAll"):
        body = await gql(client, f"query($n: [String!]) {{ tasks(filter: {{{key}: $n}}) {{ totalCount }} }}", {"n": names})
        assert body["data"]["tasks"]["totalCount"] == 0


async def test_user_search_is_literal_mongo_data(client: httpx.AsyncClient, world: World) -> None:
    search = "query($s: String) { users(filter: {search: $s}) { totalCount } }"
    for hostile in (".*", "^", "(a+)+$", "$where", '{"$gt": ""}', "\\"):
        assert (await gql(client, search, {"s": hostile}))["data"]["users"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($v: String) { users(filter: {timezone: $v}) { totalCount } }", {"v": {"$ne": None}}),
        ("query($v: ID!) { user(id: $v) { id } }", {"v": {"$gt": ""}}),
        ("query($v: [ID!]) { users(filter: {ids: $v}) { totalCount } }", {"v": [{"$ne": None}]}),
        ("query($v: String!) { userByEmail(email: $v) { id } }", {"v": {"$regex": ".*"}}),
    ],
)
async def test_operator_objects_where_text_is_expected_are_refused(client: httpx.AsyncClient, world: World,
                                                                  query: str, variables: dict) -> None:
    assert codes(await gql(client, query, variables)) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "000000000000000000000000", "$where", "../etc/passwd"])
async def test_ids_that_name_nothing_find_nothing(client: httpx.AsyncClient, world: World, hostile: str) -> None:
    data = (await gql(client, "query($id: ID!) { task(id: $id) { id } user(id: $id) { id } tag(id: $id) { id } }",
                      {"id": hostile}))["data"]
    assert data == {"task": None, "user": None, "tag": None}
    filtered = await gql(client, "query($id: ID!) { users(filter: {ids: [$id]}) { totalCount } "
                                 "tasks(filter: {assigneeIds: [$id]}) { totalCount } }", {"id": hostile})
    assert filtered["data"] == {"users": {"totalCount": 0}, "tasks": {"totalCount": 0}}


async def test_forged_cursors_are_validation_errors(client: httpx.AsyncClient, world: World) -> None:
    def forged(values: list) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")

    for cursor in (forged(["created_at:desc", "x' OR '1'='1", world.alices_task]),
                   forged(["title:asc; DROP TABLE tasks", "a", world.alices_task]), "!!!"):
        body = await gql(client, "query($c: String) { tasks(after: $c) { totalCount } }", {"c": cursor})
        assert codes(body) == ["VALIDATION_FAILED"]


async def test_sort_keys_are_a_closed_list(client: httpx.AsyncClient) -> None:
    body = await gql(client, '{ tasks(sort: "title; DROP TABLE tasks") { totalCount } }')
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    body = await gql(client, "query($s: TaskSort!) { tasks(sort: $s) { totalCount } }", {"s": "id DESC"})
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_operator_keys_in_settings_are_refused_and_operator_values_are_data(client: httpx.AsyncClient,
                                                                                 world: World) -> None:
    write = "mutation($id: ID!, $s: JSON!) { updateUserSettings(id: $id, settings: $s, mode: REPLACE) { profile { settings } } }"
    for bad in ({"$where": "sleep(1000)"}, {"a": {"$gt": ""}}, {"a.b": 1}, {"": 1}):
        assert codes(await gql(client, write, {"id": world.alice.id, "s": bad})) == ["VALIDATION_FAILED"]
    stored = await gql(client, write, {"id": world.alice.id, "s": {"filter": "$gt", "list": ["$where", {"op": "$ne"}]}})
    assert stored["data"]["updateUserSettings"]["profile"]["settings"] == {
        "filter": "$gt", "list": ["$where", {"op": "$ne"}]
    }


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($s: String) { tasks(filter: {search: $s}) { totalCount } }", {"s": "a\x00b"}),
        ("query($s: [String!]) { tasks(filter: {tagsAny: $s}) { totalCount } }", {"s": ["a\x00"]}),
        ("query($s: [ID!]) { tasks(filter: {assigneeIds: $s}) { totalCount } }", {"s": ["\x00"]}),
        ("query($s: String) { users(filter: {search: $s}) { totalCount } }", {"s": "\x00"}),
        ("mutation($s: JSON!) { createUser(input: {email: \"n@example.com\", settings: $s}) { id } }", {"s": {"k": "\x00"}}),
        ('{ tasks(filter: {search: "a\\u0000b"}) { totalCount } }', {}),
    ],
)
async def test_nul_characters_are_refused_before_any_store_sees_them(client: httpx.AsyncClient, query: str,
                                                                     variables: dict) -> None:
    body = await gql(client, query, variables)
    assert codes(body) == ["VALIDATION_FAILED"]
    assert "NUL" in body["errors"][0]["message"]


async def test_unpaired_surrogates_are_refused(client: httpx.AsyncClient) -> None:
    raw = b'{"query": "mutation($d: String) { createTask(input: {title: \\"x\\", description: $d}) { id } }", ' \
          b'"variables": {"d": "\\ud800"}}'
    response = await client.post("/graphql", content=raw,
                                 headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE})
    assert response.status_code < 500
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["VALIDATION_FAILED"]


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2026-02-30T00:00:00"])
async def test_instants_outside_the_representable_range_are_bad_input(client: httpx.AsyncClient, instant: str) -> None:
    for query in ("mutation($d: DateTime) { createTask(input: {title: \"x\", dueDate: $d}) { id } }",
                  "query($d: DateTime) { tasks(filter: {dueAfter: $d}) { totalCount } }",
                  "query($d: DateTime!) { usersWithTasksCreatedBetween(start: $d, end: $d) { id } }"):
        assert codes(await gql(client, query, {"d": instant})) == ["BAD_USER_INPUT"]
