"""The whole-response cache survives writes that change nothing a response showed, and never serves one
that a write made stale: a response depends on the stamps of what its execution read.

"Served from Redis" is asserted by the response-cache hit counter together with zero SQL statements and
zero Mongo commands during the request; "fresh" by the data (and by a miss).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from app import cache
from app.auth.principal import SYSTEM
from app.common.changes import Change, ChangeKind, Entity
from app.stores.mongo_log import record_commands
from app.stores.query_log import record_statements
from app.stores.sql import ClockTimestamp
from app.tasks import service as task_service
from app.tasks.models import Task
from app.users import service as users
from tests.graphql.test_tasks_api import create_tag, create_task
from tests.support.auth import bearer
from tests.support.graphql import gql

BOARD = """query Board($status: [TaskStatus!]) {
  tasks(filter: {status: $status}, first: 20) { totalCount nodes { id title status tags { name } assignee { name } } }
}"""
ROWS = "query Rows($status: [TaskStatus!]) { tasks(filter: {status: $status}, first: 20) { nodes { id title } } }"
TAGGED = """query Tagged($tags: [String!], $status: [TaskStatus!]) {
  tasks(filter: {tagsAny: $tags, status: $status}, first: 20) { totalCount nodes { id title tags { name } } }
}"""
SEARCH = """query Search($text: String, $status: [TaskStatus!]) {
  tasks(filter: {search: $text, status: $status}, first: 20) { totalCount nodes { id title } }
}"""
TASK = "query Task($id: ID!) { task(id: $id) { id title status tags { name } assignee { name } } }"
STATS = "query Stats($ids: [ID!]) { userStats(userIds: $ids) { userId taskCount completedCount } }"
PEOPLE = "query People { users(first: 10) { nodes { name tasks(first: 5) { totalCount } } } }"
TAG_LIST = "query Tags { tags { tag { name } taskCount } }"
ME = "query Me { me { id name } }"
BY_EMAIL = 'query ByEmail { userByEmail(email: "ada@example.com") { name } }'
UPDATE = "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }"


async def read(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, headers: dict | None = None
) -> tuple[dict, bool]:
    """(data, whether it was served from Redis without touching a database)."""
    hits = cache.current().stats()["response_hits"]
    with record_statements() as statements, record_commands() as commands:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                                     headers=headers or {})
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    hit = cache.current().stats()["response_hits"] == hits + 1
    if hit:
        assert (statements.count, commands.count) == (0, 0)
    return body["data"], hit


async def cached(client: httpx.AsyncClient, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
    """Read twice: the second read is served from Redis."""
    data, _ = await read(client, query, variables, headers)
    again, hit = await read(client, query, variables, headers)
    assert hit and again == data
    return data


def ids(data: dict) -> list[str]:
    return [node["id"] for node in data["tasks"]["nodes"]]


async def user(email: str, name: str) -> str:
    return str((await users.create_user(email=email, name=name, actor=SYSTEM)).id)


async def test_a_create_in_todo_keeps_other_statuses_and_other_tasks_cached_and_refreshes_what_counts_it(
    client: httpx.AsyncClient,
) -> None:
    # Given Ada with one finished and one open task, and cached boards, the finished task, her stats
    ada = await user("ada@example.com", "Ada")
    done = await create_task(client, title="shipped", status="COMPLETED", assigneeId=ada)
    todo = await create_task(client, title="open", status="TODO", assigneeId=ada)
    done_board = await cached(client, BOARD, {"status": ["COMPLETED"]})
    await cached(client, BOARD, {"status": ["TODO"]})
    done_task = await cached(client, TASK, {"id": done["id"]})
    await cached(client, STATS, {"ids": [ada]})
    await cached(client, PEOPLE)

    # When a task is created in TODO for Ada
    new = await create_task(client, title="new", status="TODO", assigneeId=ada)

    # Then the finished board and the finished task are still served from Redis
    assert await read(client, BOARD, {"status": ["COMPLETED"]}) == (done_board, True)
    assert await read(client, TASK, {"id": done["id"]}) == (done_task, True)
    # and the TODO board, Ada's stats and her task count include the new task
    todo_board, hit = await read(client, BOARD, {"status": ["TODO"]})
    assert not hit and ids(todo_board) == [new["id"], todo["id"]] and todo_board["tasks"]["totalCount"] == 2
    stats, hit = await read(client, STATS, {"ids": [ada]})
    assert not hit and stats["userStats"][0]["taskCount"] == 3
    people, hit = await read(client, PEOPLE)
    assert not hit and people["users"]["nodes"][0]["tasks"]["totalCount"] == 3


async def test_an_update_moving_a_task_refreshes_the_lists_of_both_statuses_and_no_other(
    client: httpx.AsyncClient,
) -> None:
    mover = await create_task(client, title="mover", status="TODO")
    busy = await create_task(client, title="busy", status="IN_PROGRESS")
    for status in ("TODO", "COMPLETED", "IN_PROGRESS"):
        await cached(client, BOARD, {"status": [status]})

    await gql(client, UPDATE, {"id": mover["id"], "input": {"status": "COMPLETED"}})

    todo, hit = await read(client, BOARD, {"status": ["TODO"]})
    assert not hit and ids(todo) == [] and todo["tasks"]["totalCount"] == 0
    finished, hit = await read(client, BOARD, {"status": ["COMPLETED"]})
    assert not hit and ids(finished) == [mover["id"]]
    in_progress, hit = await read(client, BOARD, {"status": ["IN_PROGRESS"]})
    assert hit and ids(in_progress) == [busy["id"]]


async def test_a_title_edit_refreshes_the_lists_showing_the_task(client: httpx.AsyncClient) -> None:
    task = await create_task(client, title="before", status="TODO")
    await cached(client, ROWS, {"status": ["TODO"]})
    await cached(client, ROWS, {"status": ["COMPLETED"]})

    await gql(client, UPDATE, {"id": task["id"], "input": {"title": "after"}})

    rows, hit = await read(client, ROWS, {"status": ["TODO"]})
    assert not hit and rows["tasks"]["nodes"] == [{"id": task["id"], "title": "after"}]
    assert (await read(client, ROWS, {"status": ["COMPLETED"]}))[1]


async def test_a_soft_delete_refreshes_its_status_and_the_task_and_nothing_else(client: httpx.AsyncClient) -> None:
    gone = await create_task(client, title="gone", status="TODO")
    await create_task(client, title="kept", status="COMPLETED")
    await cached(client, BOARD, {"status": ["TODO"]})
    await cached(client, BOARD, {"status": ["COMPLETED"]})
    await cached(client, TASK, {"id": gone["id"]})

    await gql(client, "mutation($id: ID!) { deleteTask(id: $id) { id } }", {"id": gone["id"]})

    assert (await read(client, BOARD, {"status": ["TODO"]}))[0]["tasks"]["totalCount"] == 0
    assert (await read(client, TASK, {"id": gone["id"]}))[0] == {"task": None}
    assert (await read(client, BOARD, {"status": ["COMPLETED"]}))[1]


async def test_a_tag_rename_refreshes_every_response_showing_the_tag(client: httpx.AsyncClient) -> None:
    # Given a TODO task tagged "bug" and cached responses that show the tag, filter by it, or do neither
    bug = await create_tag(client, "bug")
    tagged = await create_task(client, title="tagged", status="TODO", tagIds=[bug])
    await create_task(client, title="plain", status="COMPLETED")
    await cached(client, BOARD, {"status": ["TODO"]})
    await cached(client, TASK, {"id": tagged["id"]})
    await cached(client, TAGGED, {"tags": ["bug"]})
    await cached(client, TAGGED, {"tags": ["defect"]})
    await cached(client, TAG_LIST)
    rows = await cached(client, ROWS, {"status": ["TODO"]})
    people = await cached(client, PEOPLE)

    # When the tag is renamed
    body = await gql(client, 'mutation($id: ID!) { updateTag(id: $id, input: {name: "defect"}) { id } }', {"id": bug})
    assert "errors" not in body, body

    # Then every response that showed it or filtered by it is fresh
    board, hit = await read(client, BOARD, {"status": ["TODO"]})
    assert not hit and board["tasks"]["nodes"][0]["tags"] == [{"name": "defect"}]
    assert (await read(client, TASK, {"id": tagged["id"]}))[0]["task"]["tags"] == [{"name": "defect"}]
    assert (await read(client, TAGGED, {"tags": ["bug"]}))[0]["tasks"]["totalCount"] == 0
    assert ids((await read(client, TAGGED, {"tags": ["defect"]}))[0]) == [tagged["id"]]
    assert (await read(client, TAG_LIST))[0]["tags"] == [{"tag": {"name": "defect"}, "taskCount": 1}]
    # and the ones that showed no tags are still served from Redis (one that shows any task's tags follows
    # every tag write: a tag linked concurrently with a rename would otherwise show its old name)
    assert await read(client, ROWS, {"status": ["TODO"]}) == (rows, True)
    assert await read(client, PEOPLE) == (people, True)


async def test_a_tag_link_change_refreshes_the_tasks_lists_filtered_by_tags_and_not_the_others(
    client: httpx.AsyncClient,
) -> None:
    bug = await create_tag(client, "bug")
    task = await create_task(client, title="soon tagged", status="TODO")
    await create_task(client, title="finished", status="COMPLETED", tagIds=[bug])
    await cached(client, TAGGED, {"tags": ["bug"], "status": ["TODO"]})
    finished = await cached(client, TAGGED, {"tags": ["bug"], "status": ["COMPLETED"]})
    rows = await cached(client, ROWS, {"status": ["TODO"]})
    await cached(client, TASK, {"id": task["id"]})

    body = await gql(client, "mutation($t: ID!, $g: [ID!]!) { addTaskTags(taskId: $t, tagIds: $g) { id } }",
                     {"t": task["id"], "g": [bug]})
    assert "errors" not in body, body

    todo, hit = await read(client, TAGGED, {"tags": ["bug"], "status": ["TODO"]})
    assert not hit and ids(todo) == [task["id"]]
    assert (await read(client, TASK, {"id": task["id"]}))[0]["task"]["tags"] == [{"name": "bug"}]
    assert await read(client, TAGGED, {"tags": ["bug"], "status": ["COMPLETED"]}) == (finished, True)
    assert await read(client, ROWS, {"status": ["TODO"]}) == (rows, True)


async def test_a_user_rename_refreshes_the_responses_showing_that_user(client: httpx.AsyncClient) -> None:
    # Given tasks of Ada (TODO) and Bob (COMPLETED), and cached boards, Ada's task and each one's `me`
    ada, bob = await user("ada@example.com", "Ada"), await user("bob@example.com", "Bob")
    adas = await create_task(client, title="Ada's", status="TODO", assigneeId=ada)
    await create_task(client, title="Bob's", status="COMPLETED", assigneeId=bob)
    await cached(client, BOARD, {"status": ["TODO"]})
    bobs_board = await cached(client, BOARD, {"status": ["COMPLETED"]})
    await cached(client, TASK, {"id": adas["id"]})
    as_ada, as_bob = bearer(ada), bearer(bob)
    await cached(client, ME, headers=as_ada)
    bob_me = await cached(client, ME, headers=as_bob)

    # When Ada is renamed
    await users.update_user(user_id=ada, name="Ada L.", actor=SYSTEM)

    # Then what shows her is fresh, and what does not is still served from Redis
    board, hit = await read(client, BOARD, {"status": ["TODO"]})
    assert not hit and board["tasks"]["nodes"][0]["assignee"] == {"name": "Ada L."}
    assert (await read(client, TASK, {"id": adas["id"]}))[0]["task"]["assignee"] == {"name": "Ada L."}
    assert (await read(client, ME, headers=as_ada))[0]["me"] == {"id": ada, "name": "Ada L."}
    assert await read(client, ME, headers=as_bob) == (bob_me, True)
    assert await read(client, BOARD, {"status": ["COMPLETED"]}) == (bobs_board, True)


async def test_search_lists_follow_the_writes_that_match_them(client: httpx.AsyncClient) -> None:
    finished = await create_task(client, title="haystack", status="COMPLETED")
    await cached(client, SEARCH, {"text": "needle"})
    await cached(client, SEARCH, {"text": "needle", "status": ["COMPLETED"]})

    created = await create_task(client, title="a needle", status="TODO")

    everywhere, hit = await read(client, SEARCH, {"text": "needle"})
    assert not hit and ids(everywhere) == [created["id"]]
    assert (await read(client, SEARCH, {"text": "needle", "status": ["COMPLETED"]}))[1]

    await gql(client, UPDATE, {"id": finished["id"], "input": {"description": "has a NEEDLE"}})

    finished_only, hit = await read(client, SEARCH, {"text": "needle", "status": ["COMPLETED"]})
    assert not hit and ids(finished_only) == [finished["id"]]
    assert ids((await read(client, SEARCH, {"text": "needle"}))[0]) == [created["id"], finished["id"]]


async def test_a_response_that_read_around_the_cache_follows_every_write(client: httpx.AsyncClient) -> None:
    # userByEmail reads MongoDB directly: no stamp follows what it read
    await user("ada@example.com", "Ada")
    fallbacks = cache.current().stats()["response_fallbacks"]
    await cached(client, BY_EMAIL)
    assert cache.current().stats()["response_fallbacks"] == fallbacks + 1

    await create_task(client, title="unrelated")  # replaces the task collection stamp it was stored under
    assert not (await read(client, BY_EMAIL))[1]

    ada = await users.get_user_by_email(email="ada@example.com")
    await users.update_user(user_id=str(ada.id), name="Ada L.", actor=SYSTEM)
    assert await read(client, BY_EMAIL) == ({"userByEmail": {"name": "Ada L."}}, False)


async def test_a_write_that_commits_while_a_response_is_being_filled_leaves_it_unservable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_task(client, title="first", status="TODO")
    query = "query Held { tasks(filter: {status: [TODO]}, first: 20) { totalCount nodes { title } } }"
    page_read, release = asyncio.Event(), asyncio.Event()
    find_tasks = task_service.find_tasks

    async def held(**arguments: Any) -> Any:  # the real query, then the response waits before it is sent
        result = await find_tasks(**arguments)
        page_read.set()
        await release.wait()
        return result

    monkeypatch.setattr(task_service, "find_tasks", held)
    slow = asyncio.create_task(read(client, query))
    await asyncio.wait_for(page_read.wait(), 30)
    monkeypatch.setattr(task_service, "find_tasks", find_tasks)

    await create_task(client, title="second", status="TODO")  # commits and bumps while the fill is held
    release.set()
    before, hit = await slow
    assert not hit and before["tasks"]["totalCount"] == 1  # its own caller gets what it read

    after, hit = await read(client, query)
    assert not hit and after["tasks"]["totalCount"] == 2


@pytest.mark.parametrize("spell", [str.upper, lambda text: "urn:uuid:" + text, lambda text: text.replace("-", "")])
async def test_a_task_read_by_another_spelling_of_its_id_follows_its_writes(client: httpx.AsyncClient, spell) -> None:
    task = await create_task(client, title="before", status="TODO")
    await cached(client, TASK, {"id": spell(task["id"])})

    await gql(client, UPDATE, {"id": task["id"], "input": {"title": "after"}})

    assert (await read(client, TASK, {"id": spell(task["id"])}))[0]["task"]["title"] == "after"


async def test_a_user_read_by_an_upper_case_id_follows_its_writes(client: httpx.AsyncClient) -> None:
    ada = await user("ada@example.com", "Ada")
    query = "query($id: ID!) { user(id: $id) { name } }"
    await cached(client, query, {"id": ada.upper()})

    await users.update_user(user_id=ada, name="Ada L.", actor=SYSTEM)

    assert (await read(client, query, {"id": ada.upper()}))[0]["user"] == {"name": "Ada L."}


async def test_metrics_count_the_response_caches_hits_and_misses(client: httpx.AsyncClient) -> None:
    await cached(client, ROWS, {"status": ["TODO"]})
    text = (await client.get("/metrics")).text
    for name in ("hits", "misses", "stores", "fallbacks"):
        assert f"# TYPE taskboard_cache_response_{name} gauge" in text
    assert float(re.search(r"^taskboard_cache_response_hits (\S+)$", text, re.M)[1]) >= 1
    assert float(re.search(r"^taskboard_cache_response_misses (\S+)$", text, re.M)[1]) >= 1


NEWEST_FIRST = """query Page($status: [TaskStatus!], $first: Int) {
  tasks(filter: {status: $status}, first: $first) { totalCount nodes { id title priority } }
}"""
BY_PRIORITY = """query Ranked($status: [TaskStatus!], $priority: [Priority!], $sort: TaskSort) {
  tasks(filter: {status: $status, priority: $priority}, sort: $sort, first: 20) { nodes { id priority } }
}"""
MINE = """query Mine($who: [ID!], $status: [TaskStatus!]) {
  tasks(filter: {assigneeIds: $who, status: $status}, first: 20) { totalCount nodes { id status } }
}"""


async def read_statements(client: httpx.AsyncClient, query: str, variables: dict | None = None) -> tuple[dict, list[str]]:
    """(data, the SQL statements the request ran) for a request that is not served from Redis."""
    with record_statements() as statements:
        data, hit = await read(client, query, variables)
    assert not hit
    return data, statements.statements


async def test_a_priority_change_refreshes_the_row_and_keeps_the_pages_it_does_not_reorder(
    client: httpx.AsyncClient,
) -> None:
    # Given two TODO tasks, a cached page of the newest one only, a cached page of both and the tag list
    older = await create_task(client, title="older", status="TODO", priority="LOW")
    newer = await create_task(client, title="newer", status="TODO", priority="LOW")
    newest_only = await cached(client, NEWEST_FIRST, {"status": ["TODO"], "first": 1})
    await cached(client, NEWEST_FIRST, {"status": ["TODO"], "first": 20})
    tag_list = await cached(client, TAG_LIST)

    # When the older task's priority changes (it stays in TODO, and creation order is unchanged)
    await gql(client, UPDATE, {"id": older["id"], "input": {"priority": "HIGH"}})

    # Then the page that does not show it and the tag counts are still served from Redis
    assert await read(client, NEWEST_FIRST, {"status": ["TODO"], "first": 1}) == (newest_only, True)
    assert await read(client, TAG_LIST) == (tag_list, True)
    # and the page that shows it has the new priority: its ids and count came from Redis, only the row was read
    both, statements = await read_statements(client, NEWEST_FIRST, {"status": ["TODO"], "first": 20})
    assert both["tasks"]["nodes"] == [
        {"id": newer["id"], "title": "newer", "priority": "LOW"},
        {"id": older["id"], "title": "older", "priority": "HIGH"},
    ]
    assert both["tasks"]["totalCount"] == 2
    assert len(statements) == 1 and "COUNT" not in statements[0].upper()


async def test_lists_filtered_or_sorted_by_priority_follow_a_priority_change(client: httpx.AsyncClient) -> None:
    first = await create_task(client, title="first", status="TODO", priority="MEDIUM")
    second = await create_task(client, title="second", status="TODO", priority="LOW")
    ranked = {"status": ["TODO"], "sort": "PRIORITY_DESC"}
    assert ids(await cached(client, BY_PRIORITY, ranked)) == [first["id"], second["id"]]
    assert ids(await cached(client, BY_PRIORITY, {"priority": ["HIGH"]})) == []

    await gql(client, UPDATE, {"id": second["id"], "input": {"priority": "HIGH"}})

    reordered, hit = await read(client, BY_PRIORITY, ranked)
    assert not hit and ids(reordered) == [second["id"], first["id"]]
    high, hit = await read(client, BY_PRIORITY, {"priority": ["HIGH"]})
    assert not hit and high["tasks"]["nodes"] == [{"id": second["id"], "priority": "HIGH"}]


async def test_a_list_of_one_assignee_filtered_by_status_follows_a_status_change(client: httpx.AsyncClient) -> None:
    ada = await user("ada@example.com", "Ada")
    task = await create_task(client, title="hers", status="TODO", assigneeId=ada)
    assert ids(await cached(client, MINE, {"who": [ada], "status": ["TODO"]})) == [task["id"]]
    assert ids(await cached(client, MINE, {"who": [ada], "status": ["COMPLETED"]})) == []

    await gql(client, UPDATE, {"id": task["id"], "input": {"status": "COMPLETED"}})

    todo, hit = await read(client, MINE, {"who": [ada], "status": ["TODO"]})
    assert not hit and todo["tasks"] == {"totalCount": 0, "nodes": []}
    done, hit = await read(client, MINE, {"who": [ada], "status": ["COMPLETED"]})
    assert not hit and done["tasks"] == {"totalCount": 1, "nodes": [{"id": task["id"], "status": "COMPLETED"}]}


async def test_a_listed_row_deleted_before_its_page_is_refreshed_is_left_out(client: httpx.AsyncClient) -> None:
    # Given a cached page of two tasks
    kept = await create_task(client, title="kept", status="TODO")
    gone = await create_task(client, title="gone", status="TODO")
    await cached(client, ROWS, {"status": ["TODO"]})
    # When one is soft-deleted and, for now, only its row's stamp has moved (its slices' bumps are what
    # refresh the page; between the two a reader can find the page's ids and the deleted row)
    await Task.filter(id=gone["id"]).update(deleted_at=ClockTimestamp())
    await cache.current().invalidate([Change(Entity.TASK, ChangeKind.UPDATED, (gone["id"],), partitions=())])

    # Then the page shows the live task only
    rows, hit = await read(client, ROWS, {"status": ["TODO"]})
    assert not hit and rows["tasks"]["nodes"] == [{"id": kept["id"], "title": "kept"}]


async def test_a_search_list_survives_creates_that_do_not_contain_its_text(client: httpx.AsyncClient) -> None:
    found = await create_task(client, title="find the needle", status="TODO")
    searched = await cached(client, SEARCH, {"text": "needle"})
    short = await cached(client, SEARCH, {"text": "ne"})

    await create_task(client, title="plain work", status="TODO")

    # The search whose text the new task does not contain is still served from Redis; a two-character
    # search follows every create
    assert await read(client, SEARCH, {"text": "needle"}) == (searched, True)
    again, hit = await read(client, SEARCH, {"text": "ne"})
    assert not hit and again["tasks"]["totalCount"] == short["tasks"]["totalCount"]
    # and a create or a title edit that makes a task match refreshes it
    other = await create_task(client, title="other", status="COMPLETED")
    await gql(client, UPDATE, {"id": other["id"], "input": {"title": "a NEEDLE too"}})
    refreshed, hit = await read(client, SEARCH, {"text": "needle"})
    assert not hit and set(ids(refreshed)) == {found["id"], other["id"]}


ONLY_TAGGED = "query Tagged($tags: [String!]) { tasks(filter: {tagsAny: $tags}, first: 20) { totalCount nodes { id } } }"
LINK = "mutation($t: ID!, $g: [ID!]!) { addTaskTags(taskId: $t, tagIds: $g) { id } }"
UNLINK = "mutation($t: ID!, $g: [ID!]!) { removeTaskTags(taskId: $t, tagIds: $g) { id } }"


async def test_a_list_filtered_by_tag_names_follows_only_the_tasks_carrying_those_tags(client: httpx.AsyncClient) -> None:
    bug, feature = await create_tag(client, "Bug"), await create_tag(client, "feature")
    first = await create_task(client, title="first", status="TODO", tagIds=[bug])
    other = await create_task(client, title="other", status="TODO")
    bugs = await cached(client, ONLY_TAGGED, {"tags": ["bug"]})

    # Writes that link no task to "bug" keep it: a create with another tag, one without tags, another link
    await create_task(client, title="a feature", status="TODO", tagIds=[feature])
    await create_task(client, title="untagged", status="TODO")
    await gql(client, LINK, {"t": other["id"], "g": [feature]})
    assert await read(client, ONLY_TAGGED, {"tags": ["bug"]}) == (bugs, True)

    # Each write that links or unlinks "bug", or deletes or restores a task carrying it, refreshes it
    second = await create_task(client, title="second", status="COMPLETED", tagIds=[bug, feature])
    listed, hit = await read(client, ONLY_TAGGED, {"tags": ["BUG"]})
    assert not hit and set(ids(listed)) == {first["id"], second["id"]}
    await cached(client, ONLY_TAGGED, {"tags": ["bug"]})
    await gql(client, LINK, {"t": other["id"], "g": [bug]})
    listed, hit = await read(client, ONLY_TAGGED, {"tags": ["bug"]})
    assert not hit and listed["tasks"]["totalCount"] == 3
    await gql(client, UNLINK, {"t": first["id"], "g": [bug]})
    listed, hit = await read(client, ONLY_TAGGED, {"tags": ["bug"]})
    assert not hit and set(ids(listed)) == {second["id"], other["id"]}
    await gql(client, "mutation($id: ID!) { deleteTask(id: $id) { id } }", {"id": second["id"]})
    listed, hit = await read(client, ONLY_TAGGED, {"tags": ["bug"]})
    assert not hit and ids(listed) == [other["id"]]
    await gql(client, "mutation($id: ID!) { restoreTask(id: $id) { id } }", {"id": second["id"]})
    listed, hit = await read(client, ONLY_TAGGED, {"tags": ["bug"]})
    assert not hit and set(ids(listed)) == {second["id"], other["id"]}

    # Deleting, restoring or purging tasks that do not carry "bug" keeps it
    bugs = await cached(client, ONLY_TAGGED, {"tags": ["bug"]})
    untagged = await create_task(client, title="untagged too", status="TODO", tagIds=[feature])
    assert await read(client, ONLY_TAGGED, {"tags": ["bug"]}) == (bugs, True)
    await gql(client, "mutation($id: ID!) { deleteTask(id: $id) { id } }", {"id": untagged["id"]})
    await gql(client, "mutation($id: ID!) { restoreTask(id: $id) { id } }", {"id": untagged["id"]})
    await gql(client, "mutation($id: ID!) { hardDeleteTask(id: $id) { id } }", {"id": untagged["id"]})
    assert await read(client, ONLY_TAGGED, {"tags": ["bug"]}) == (bugs, True)
    # and purging one that does refreshes it
    await gql(client, "mutation($id: ID!) { hardDeleteTask(id: $id) { id } }", {"id": second["id"]})
    listed, hit = await read(client, ONLY_TAGGED, {"tags": ["bug"]})
    assert not hit and ids(listed) == [other["id"]]
