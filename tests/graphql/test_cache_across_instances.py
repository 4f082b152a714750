"""Read-after-write across two app processes that share Redis: B never serves what A's write made stale."""

from __future__ import annotations

import pytest

from tests.graphql.test_subscriptions import create_task, post
from tests.support.processes import app_server

TASK = "query($id: ID!) { task(id: $id) { title status } }"
TODO_PAGE = "{ tasks(filter: {status: [TODO]}, first: 50) { totalCount nodes { id } } }"


@pytest.fixture(scope="module")
def two_instances():
    with app_server() as a, app_server() as b:
        yield a, b


async def test_single_task_read_on_b_right_after_a_write_on_a(two_instances) -> None:
    a, b = two_instances
    task = await create_task(a.base_url, title="before")
    assert (await post(b.base_url, TASK, {"id": task["id"]}))["task"]["title"] == "before"  # B caches it
    assert (await post(b.base_url, TASK, {"id": task["id"]}))["task"]["title"] == "before"  # served from cache

    await post(a.base_url, 'mutation($id: ID!) { updateTask(id: $id, input: {title: "after"}) { id } }', {"id": task["id"]})

    assert (await post(b.base_url, TASK, {"id": task["id"]}))["task"]["title"] == "after"


async def test_list_page_on_b_follows_writes_on_a_moving_tasks_in_and_out(two_instances) -> None:
    a, b = two_instances
    task = await create_task(a.base_url, title="mover")
    before = (await post(b.base_url, TODO_PAGE))["tasks"]
    assert task["id"] in [n["id"] for n in before["nodes"]]

    await post(a.base_url, "mutation($id: ID!) { updateTask(id: $id, input: {status: COMPLETED}) { id } }",
               {"id": task["id"]})
    out = (await post(b.base_url, TODO_PAGE))["tasks"]
    assert task["id"] not in [n["id"] for n in out["nodes"]]
    assert out["totalCount"] == before["totalCount"] - 1

    await post(a.base_url, "mutation($id: ID!) { updateTask(id: $id, input: {status: TODO}) { id } }",
               {"id": task["id"]})
    back = (await post(b.base_url, TODO_PAGE))["tasks"]
    assert task["id"] in [n["id"] for n in back["nodes"]]
    assert back["totalCount"] == before["totalCount"]
