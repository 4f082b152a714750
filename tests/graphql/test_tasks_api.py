"""Task queries and mutations over HTTP, with the error code of each failure."""

from __future__ import annotations

import httpx
import pytest

from app.stores import sql
from tests.support.graphql import codes, gql

TASK_FIELDS = "id title description status priority dueDate assigneeId createdAt updatedAt deletedAt tags { id name color } assignee { id email name }"

CREATE = f"mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {TASK_FIELDS} }} }}"
UPDATE = f"mutation($id: ID!, $input: UpdateTaskInput!) {{ updateTask(id: $id, input: $input) {{ {TASK_FIELDS} }} }}"
TASK = f"query($id: ID!, $all: Boolean! = false) {{ task(id: $id, includeDeleted: $all) {{ {TASK_FIELDS} }} }}"
TASKS = """query($filter: TaskFilter, $sort: TaskSort, $first: Int, $after: String, $last: Int, $before: String,
                 $page: Int, $limit: Int, $all: Boolean) {
  tasks(filter: $filter, sort: $sort, first: $first, after: $after, last: $last, before: $before,
        page: $page, limit: $limit, includeDeleted: $all) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title priority } }
    nodes { title }
  }
}"""


async def create_tag(client: httpx.AsyncClient, name: str, color: str = "#336699") -> str:
    body = await gql(client, "mutation($n: String!, $c: String!) { createTag(name: $n, color: $c) { id } }",
                     {"n": name, "c": color})
    return body["data"]["createTag"]["id"]


async def create_user(client: httpx.AsyncClient, email: str, name: str = "Someone") -> str:
    body = await gql(client, "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                     {"i": {"email": email, "name": name}})
    return body["data"]["createUser"]["id"]


async def create_task(client: httpx.AsyncClient, **input_: object) -> dict:
    body = await gql(client, CREATE, {"input": {"title": "t", **input_}})
    assert "errors" not in body, body
    return body["data"]["createTask"]


async def test_create_then_read_with_tags_and_assignee(client: httpx.AsyncClient) -> None:
    bug = await create_tag(client, "bug", "#FF0000")
    ada = await create_user(client, "Ada@Example.com", "Ada")

    created = await create_task(
        client, title="Fix login", priority="HIGH", dueDate="2030-01-02T03:04:05+00:00", assigneeId=ada, tagIds=[bug]
    )
    read = (await gql(client, TASK, {"id": created["id"]}))["data"]["task"]

    assert read == created
    assert read["priority"] == "HIGH" and read["status"] == "TODO"
    assert read["tags"] == [{"id": bug, "name": "bug", "color": "#ff0000"}]
    assert read["assignee"] == {"id": ada, "email": "ada@example.com", "name": "Ada"}
    assert read["dueDate"].startswith("2030-01-02T03:04:05")


async def test_missing_or_malformed_id_reads_as_null(client: httpx.AsyncClient) -> None:
    for task_id in ("00000000-0000-7000-8000-000000000000", "not-a-uuid", ""):
        body = await gql(client, TASK, {"id": task_id})
        assert body["data"] == {"task": None}
        assert "errors" not in body


@pytest.mark.parametrize(
    ("input_", "field"),
    [({"title": ""}, "title"), ({"title": "x" * 201}, "title"), ({"title": "ok", "assigneeId": "nope"}, "assigneeId"),
     ({"title": "ok", "assigneeId": "5f0000000000000000000000"}, "assigneeId"),
     ({"title": "ok", "tagIds": ["00000000-0000-7000-8000-000000000000"]}, "tagIds.0")],
)
async def test_invalid_create_is_validation_failed_with_field_details(
    client: httpx.AsyncClient, input_: dict, field: str
) -> None:
    body = await gql(client, CREATE, {"input": input_})
    assert codes(body) == ["VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["fields"][0]["field"] == field
    assert await sql.fetchval("SELECT count(*) FROM tasks") == 0


async def test_bad_enum_value_is_a_request_error(client: httpx.AsyncClient) -> None:
    body = await gql(client, CREATE, {"input": {"title": "t", "status": "DONE"}})
    assert body["_status"] == 400
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_update_partial_null_clears_and_unknown_is_not_found(client: httpx.AsyncClient) -> None:
    task = await create_task(client, description="keep", dueDate="2030-01-01T00:00:00Z")
    body = await gql(client, UPDATE, {"id": task["id"], "input": {"status": "IN_PROGRESS", "dueDate": None}})
    updated = body["data"]["updateTask"]
    assert (updated["status"], updated["description"], updated["dueDate"]) == ("IN_PROGRESS", "keep", None)

    missing = await gql(client, UPDATE, {"id": "00000000-0000-7000-8000-000000000000", "input": {"title": "x"}})
    assert codes(missing) == ["NOT_FOUND"]
    nulled = await gql(client, UPDATE, {"id": task["id"], "input": {"title": None}})
    assert codes(nulled) == ["VALIDATION_FAILED"]


async def test_soft_delete_restore_and_hard_delete(client: httpx.AsyncClient) -> None:
    task = await create_task(client, title="doomed")
    deleted = await gql(client, "mutation($id: ID!) { deleteTask(id: $id) { deletedAt } }", {"id": task["id"]})
    assert deleted["data"]["deleteTask"]["deletedAt"] is not None
    assert (await gql(client, TASK, {"id": task["id"]}))["data"]["task"] is None
    assert (await gql(client, TASK, {"id": task["id"], "all": True}))["data"]["task"]["title"] == "doomed"
    assert (await gql(client, TASKS, {}))["data"]["tasks"]["totalCount"] == 0
    assert (await gql(client, TASKS, {"all": True}))["data"]["tasks"]["totalCount"] == 1

    again = await gql(client, "mutation($id: ID!) { deleteTask(id: $id) { id } }", {"id": task["id"]})
    assert codes(again) == ["NOT_FOUND"]
    restored = await gql(client, "mutation($id: ID!) { restoreTask(id: $id) { deletedAt } }", {"id": task["id"]})
    assert restored["data"]["restoreTask"]["deletedAt"] is None

    hard = await gql(client, "mutation($id: ID!) { hardDeleteTask(id: $id) { title } }", {"id": task["id"]})
    assert hard["data"]["hardDeleteTask"]["title"] == "doomed"
    gone = await gql(client, "mutation($id: ID!) { hardDeleteTask(id: $id) { title } }", {"id": task["id"]})
    assert codes(gone) == ["NOT_FOUND"]


async def test_add_and_remove_tags(client: httpx.AsyncClient) -> None:
    bug, ui = await create_tag(client, "bug"), await create_tag(client, "ui")
    task = await create_task(client)
    add = "mutation($t: ID!, $g: [ID!]!) { addTaskTags(taskId: $t, tagIds: $g) { tags { name } } }"
    remove = "mutation($t: ID!, $g: [ID!]!) { removeTaskTags(taskId: $t, tagIds: $g) { tags { name } } }"
    assert (await gql(client, add, {"t": task["id"], "g": [bug, ui, bug]}))["data"]["addTaskTags"]["tags"] == [
        {"name": "bug"}, {"name": "ui"}]
    assert (await gql(client, remove, {"t": task["id"], "g": [bug]}))["data"]["removeTaskTags"]["tags"] == [
        {"name": "ui"}]
    unknown = await gql(client, add, {"t": task["id"], "g": ["00000000-0000-7000-8000-000000000000"]})
    assert codes(unknown) == ["VALIDATION_FAILED"]


async def test_bulk_upsert(client: httpx.AsyncClient) -> None:
    existing = await create_task(client, title="old")
    body = await gql(
        client,
        "mutation($items: [TaskUpsertInput!]!) { bulkUpsertTasks(items: $items) { createdIds updatedIds tasks { title } } }",
        {"items": [{"id": existing["id"], "title": "new"}, {"title": "fresh", "priority": "LOW"}]},
    )
    result = body["data"]["bulkUpsertTasks"]
    assert result["updatedIds"] == [existing["id"]]
    assert len(result["createdIds"]) == 1
    assert [t["title"] for t in result["tasks"]] == ["new", "fresh"]
    bad = await gql(client, "mutation($items: [TaskUpsertInput!]!) { bulkUpsertTasks(items: $items) { createdIds } }",
                    {"items": [{"title": "ok"}, {"title": ""}]})
    assert codes(bad) == ["VALIDATION_FAILED"]
    assert bad["errors"][0]["extensions"]["fields"] == [{"field": "items.1.title", "message": "must not be empty"}]


async def test_list_filters_sort_cursor_and_offset_pages(client: httpx.AsyncClient) -> None:
    bug = await create_tag(client, "bug")
    for i, priority in enumerate(["LOW", "HIGH", "MEDIUM", "HIGH", "LOW"]):
        await create_task(client, title=f"task {i}", priority=priority, tagIds=[bug] if i % 2 == 0 else [])

    first = (await gql(client, TASKS, {"sort": "PRIORITY_DESC", "first": 2}))["data"]["tasks"]
    assert first["totalCount"] == 5
    assert [e["node"]["priority"] for e in first["edges"]] == ["HIGH", "HIGH"]
    assert first["pageInfo"]["hasNextPage"] is True and first["pageInfo"]["hasPreviousPage"] is False
    second = (await gql(client, TASKS, {"sort": "PRIORITY_DESC", "first": 10, "after": first["pageInfo"]["endCursor"]}))
    assert [n["priority"] for n in (e["node"] for e in second["data"]["tasks"]["edges"])] == ["MEDIUM", "LOW", "LOW"]

    back = (await gql(client, TASKS, {"sort": "PRIORITY_DESC", "last": 2}))["data"]["tasks"]
    assert [e["node"]["priority"] for e in back["edges"]] == ["LOW", "LOW"]
    assert back["pageInfo"]["hasPreviousPage"] is True

    page2 = (await gql(client, TASKS, {"sort": "TITLE_ASC", "page": 2, "limit": 2}))["data"]["tasks"]
    assert [n["title"] for n in page2["nodes"]] == ["task 2", "task 3"]

    tagged = (await gql(client, TASKS, {"filter": {"tagsAny": ["BUG"], "priority": ["LOW"]}}))["data"]["tasks"]
    assert sorted(n["title"] for n in tagged["nodes"]) == ["task 0", "task 4"]
    searched = (await gql(client, TASKS, {"filter": {"search": "task 3"}}))["data"]["tasks"]
    assert [n["title"] for n in searched["nodes"]] == ["task 3"]


@pytest.mark.parametrize(
    "variables",
    [{"first": 101}, {"limit": 101, "page": 1}, {"page": 0}, {"first": 1, "page": 1}, {"after": "bogus"},
     {"filter": {"search": "x" * 201}}, {"first": 2, "last": 2}],
)
async def test_bad_pagination_is_validation_failed(client: httpx.AsyncClient, variables: dict) -> None:
    body = await gql(client, TASKS, variables)
    assert codes(body) == ["VALIDATION_FAILED"]
    assert body["_status"] == 200
