"""taskChanged over real WebSockets: fan-out across two app processes, filters, both subprotocols, cleanup."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from app.settings import Settings
from app.stores.redis import make_client
from app.tasks import keys as task_keys
from tests.support.auth import admin_headers
from tests.support.processes import app_server, wait_until
from tests.support.ws import LEGACY_WS, TRANSPORT_WS, subscription

CHANGED = """subscription($filter: TaskChangeFilter) {
  taskChanged(filter: $filter) { kind changedFields task { id title status tags { name } assignee { name } } }
}"""


@pytest.fixture(scope="module")
def two_instances():
    with app_server() as a, app_server() as b:
        yield a, b


async def post(base_url: str, query: str, variables: dict | None = None) -> dict:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=admin_headers()) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def create_task(base_url: str, **input_: object) -> dict:
    data = await post(base_url, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id title } }",
                      {"i": {"title": "t", **input_}})
    return data["createTask"]


async def test_a_write_on_one_instance_reaches_a_subscriber_on_the_other(two_instances) -> None:
    a, b = two_instances
    tag = (await post(a.base_url, 'mutation { createTag(name: "fanout", color: "#00aa00") { id } }'))["createTag"]
    user = (await post(a.base_url, 'mutation { createUser(input: {email: "fan@example.com", name: "Fan"}) { id } }'))
    async with subscription(b.base_url, CHANGED) as subscriber:
        created = await create_task(a.base_url, title="from A", tagIds=[tag["id"]], assigneeId=user["createUser"]["id"])
        payload = await subscriber.next_payload()

    event = payload["data"]["taskChanged"]
    assert event["kind"] == "CREATED"
    assert event["task"] == {"id": created["id"], "title": "from A", "status": "TODO",
                             "tags": [{"name": "fanout"}], "assignee": {"name": "Fan"}}
    assert "title" in event["changedFields"]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_both_subprotocols_and_the_status_filter(two_instances, protocol: str) -> None:
    a, _ = two_instances
    async with subscription(a.base_url, CHANGED, {"filter": {"status": ["IN_PROGRESS"]}}, protocol=protocol) as sub:
        task = await create_task(a.base_url, title=f"filtered {protocol}")  # TODO: filtered out
        await post(a.base_url, "mutation($id: ID!) { updateTask(id: $id, input: {status: IN_PROGRESS}) { id } }",
                   {"id": task["id"]})
        event = (await sub.next_payload())["data"]["taskChanged"]
    assert event["kind"] == "UPDATED"
    assert event["changedFields"] == ["status"]
    assert event["task"]["id"] == task["id"]


async def test_a_rejected_write_publishes_nothing(two_instances) -> None:
    a, b = two_instances
    async with subscription(b.base_url, CHANGED) as subscriber:
        async with httpx.AsyncClient(base_url=a.base_url, headers=admin_headers()) as http:
            rejected = await http.post("/graphql", json={"query": 'mutation { createTask(input: {title: ""}) { id } }'})
        assert rejected.json()["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
        ok = await create_task(a.base_url, title="after the rejected one")
        event = (await subscriber.next_payload())["data"]["taskChanged"]
    assert event["task"]["id"] == ok["id"]


async def test_hard_delete_event_carries_the_last_state(two_instances) -> None:
    a, b = two_instances
    task = await create_task(a.base_url, title="short-lived")
    async with subscription(b.base_url, CHANGED, {"filter": {"taskIds": [task["id"]]}}) as subscriber:
        await post(a.base_url, "mutation($id: ID!) { hardDeleteTask(id: $id) { id } }", {"id": task["id"]})
        event = (await subscriber.next_payload())["data"]["taskChanged"]
    assert event["kind"] == "DELETED"
    assert event["task"]["title"] == "short-lived"


async def test_disconnect_releases_the_redis_subscription(two_instances, settings: Settings) -> None:
    _, b = two_instances
    redis: Redis = make_client(settings)
    channel = task_keys.task_events(int(redis.connection_pool.connection_kwargs.get("db", 0)))

    async def subscribers() -> int:
        return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0)

    try:
        async with subscription(b.base_url, CHANGED):
            assert await _eventually(lambda: subscribers(), lambda n: n >= 1)
        assert await _eventually(lambda: subscribers(), lambda n: n == 0)
    finally:
        await redis.aclose()


async def _eventually(probe, ok, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if ok(await probe()):
            return True
        await asyncio.sleep(0.05)
    return False


def test_server_shutdown_ends_open_subscriptions() -> None:
    async def scenario(base_url: str, stop) -> dict:
        async with subscription(base_url, CHANGED) as subscriber:
            stop()
            return await subscriber.next_message(timeout=15)

    with app_server() as server:
        import threading

        def stop() -> None:
            threading.Thread(target=server.stop).start()

        try:
            message = asyncio.run(scenario(server.base_url, stop))
        except Exception as exc:  # noqa: BLE001 - the socket closing is the expected outcome
            message = {"closed": type(exc).__name__}
        assert wait_until(lambda: server.process.poll() is not None, 20)
    assert message.get("type") in ("complete", "error") or "closed" in message


async def test_queries_run_over_graphql_transport_ws_and_are_refused_with_a_code_over_legacy_graphql_ws(
    two_instances,
) -> None:
    a, _ = two_instances
    async with subscription(a.base_url, "{ apiVersion }", live=False) as subscriber:
        assert (await subscriber.next_payload())["data"] == {"apiVersion": "0.1.0"}
    for operation, kind in (("{ apiVersion }", "queries"), ('mutation { deleteTag(id: "x") }', "mutations")):
        async with subscription(a.base_url, operation, protocol=LEGACY_WS, live=False) as subscriber:
            refused = await subscriber.next_message()
            assert refused["type"] == "error", refused
            assert refused["payload"]["extensions"] == {"code": "OPERATION_NOT_SUPPORTED"}
            assert refused["payload"]["message"].startswith(f"{kind} are not allowed when using graphql-ws")
