"""A store that is down or stalls: typed, retryable errors (SERVICE_UNAVAILABLE naming the store), partial results
where the schema allows them, 503 when nothing could be answered, and a readiness that tells degraded from unready.

Real app processes (uvicorn). MongoDB: a throwaway FerretDB the test kills. PostgreSQL: a proxy in front of the
shared server that the test cuts, stalls or makes reject connections (the shared services are never touched).
Each request's httpx time-out is the guard against hanging: several times the configured store time-out.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.auth import admin_headers
from tests.support.processes import ServerProcess, app_server, start_app, throwaway_ferretdb, wait_until
from tests.support.proxy import StoreProxy, store_proxy
from tests.support.ws import subscription, subscription_deliveries

GRAPHQL_RESPONSE = "application/graphql-response+json"
GUARD_S = 10.0  # an answer must come within this, whatever the outage (store time-outs here are 1 s)
TASKS = """query Tasks($m: String!) { tasks(filter: {search: $m}, sort: CREATED_AT_ASC) {
  nodes { title assigneeId assignee { id email } } } }"""
USERS = "{ users { nodes { id } } }"
# Words of the drivers' messages that would tell a caller about our hosts and ports.
DRIVER_TEXT = ("127.0.0.1", "Errno", "Connect call failed", "Topology", "asyncpg", "pymongo", "Timeout:")


def post(app: ServerProcess, query: str, variables: dict | None = None, *, accept: str = GRAPHQL_RESPONSE,
         timeout: float = GUARD_S) -> httpx.Response:
    return httpx.post(f"{app.base_url}/graphql", json={"query": query, "variables": variables or {}},
                      headers={**admin_headers(), "Accept": accept}, timeout=timeout)


def data_of(response: httpx.Response) -> dict:
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, response.text
    return body["data"]


def unavailable(store: str) -> dict:
    return {"code": "SERVICE_UNAVAILABLE", "store": store, "retryable": True}


def assert_no_driver_text(text: str) -> None:
    for word in DRIVER_TEXT:
        assert word not in text, f"{word!r} leaked: {text}"


def assert_nothing_answered(response: httpx.Response, store: str, *, media_type: str = GRAPHQL_RESPONSE) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(media_type)
    body = response.json()
    assert body["data"] is None
    assert [error["extensions"] for error in body["errors"]] == [unavailable(store)]
    assert_no_driver_text(response.text)


def marker() -> str:
    return f"outage{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------------------------ MongoDB down


@dataclass
class MongoDown:
    app: ServerProcess
    marker: str
    assignees: list[str | None]  # of the marker's tasks, oldest first


@pytest.fixture(scope="module")
def mongo_down() -> Iterator[MongoDown]:
    """An app whose MongoDB (a throwaway FerretDB) was killed after users and tasks were written; MONGO_TIMEOUT_S
    is left at its default. Nothing read the assignees before, so no cache can answer them."""
    with throwaway_ferretdb() as (mongodb_url, ferretdb), app_server({"MONGODB_URL": mongodb_url}) as app:
        mark = marker()
        ada, bob = (
            data_of(post(app, "mutation($e: String!) { createUser(input: {email: $e}) { id } }",
                         {"e": f"{name}.{mark}@example.com"}))["createUser"]["id"]
            for name in ("ada", "bob")
        )
        assignees = [ada, None, bob, ada]
        for number, assignee in enumerate(assignees):
            data_of(post(app, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                         {"i": {"title": f"{mark} {number}", "assigneeId": assignee}}))
        ferretdb.kill()
        ferretdb.wait()
        yield MongoDown(app, mark, assignees)


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
def test_with_mongodb_down_a_task_list_answers_its_tasks_with_null_assignees_and_one_error_per_path(
    mongo_down: MongoDown, accept: str
) -> None:
    response = post(mongo_down.app, TASKS, {"m": mongo_down.marker}, accept=accept)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(accept)
    body = response.json()
    nodes = body["data"]["tasks"]["nodes"]
    assert [node["title"] for node in nodes] == [f"{mongo_down.marker} {n}" for n in range(4)]
    assert [node["assigneeId"] for node in nodes] == mongo_down.assignees  # PostgreSQL's part is all there
    assert [node["assignee"] for node in nodes] == [None] * 4
    assigned = [n for n, assignee in enumerate(mongo_down.assignees) if assignee is not None]
    assert sorted(error["path"] for error in body["errors"]) == [["tasks", "nodes", n, "assignee"] for n in assigned]
    assert all(error["extensions"] == unavailable("mongodb") for error in body["errors"])
    assert_no_driver_text(response.text)


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
def test_with_mongodb_down_an_operation_that_needs_it_answers_503(mongo_down: MongoDown, accept: str) -> None:
    assert_nothing_answered(post(mongo_down.app, USERS, accept=accept), "mongodb", media_type=accept)
    created = post(mongo_down.app, 'mutation { createUser(input: {email: "x@example.com"}) { id } }', accept=accept)
    assert_nothing_answered(created, "mongodb", media_type=accept)


def test_with_mongodb_down_the_driver_text_is_logged_not_answered(mongo_down: MongoDown) -> None:
    response = post(mongo_down.app, USERS)

    assert response.status_code == 503
    assert "mongodb unavailable" in mongo_down.app.log()
    assert "ServerSelectionTimeoutError" in mongo_down.app.log()
    assert "ServerSelectionTimeoutError" not in response.text


def test_with_mongodb_down_ready_is_degraded_not_unready(mongo_down: MongoDown) -> None:
    ready = httpx.get(f"{mongo_down.app.base_url}/health/ready", timeout=GUARD_S)

    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert (body["status"], body["degraded"], body["failing"]) == ("degraded", ["mongodb"], [])
    assert body["checks"]["mongodb"]["status"] == "down"
    assert body["checks"]["mongodb"]["error"] in ("timeout", "unreachable")
    assert body["checks"]["postgres"]["status"] == "up"
    assert_no_driver_text(ready.text)


async def test_with_mongodb_down_subscribers_get_each_task_change_with_the_assignee_as_an_error(
    mongo_down: MongoDown,
) -> None:
    changed = "subscription { taskChanged { kind task { title assignee { id } } } }"
    tasks = data_of(post(mongo_down.app, 'query($m: String!) { tasks(filter: {search: $m}, sort: CREATED_AT_ASC) '
                                         '{ nodes { id } } }', {"m": mongo_down.marker}))["tasks"]["nodes"]
    async with subscription(mongo_down.app.base_url, changed) as subscriber:
        before = await subscription_deliveries(mongo_down.app.base_url)
        for title in ("renamed once", "renamed twice"):  # the subscription outlives a failed read
            renamed = post(mongo_down.app, 'mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) '
                                           '{ title } }', {"id": tasks[0]["id"], "t": title})
            assert data_of(renamed)["updateTask"]["title"] == title
            payload = await subscriber.next_payload(timeout=GUARD_S)

            assert payload["data"]["taskChanged"] == {"kind": "UPDATED", "task": {"title": title, "assignee": None}}
            assert [error["path"] for error in payload["errors"]] == [["taskChanged", "task", "assignee"]]
            assert payload["errors"][0]["extensions"] == unavailable("mongodb")
        # results with errors never take the direct path (app.graphql.direct_delivery): the pipeline shapes them
        after = await subscription_deliveries(mongo_down.app.base_url)
        assert {path: after[path] - before[path] for path in after} == {"pipeline": 2, "direct": 0, "frame": 0, "inline": 0}


# ------------------------------------------------------------------------------------------- PostgreSQL down


def _shared_postgres() -> tuple[str, int]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts.hostname or "127.0.0.1", parts.port or 5432


def _through(proxy: StoreProxy) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}").geturl()


PG_TIMEOUTS = {"PG_COMMAND_TIMEOUT_S": "1", "PG_CONNECT_TIMEOUT_S": "1"}


@dataclass
class PostgresBehindProxy:
    proxy: StoreProxy
    app: ServerProcess


@pytest.fixture(scope="module")
def postgres_app() -> Iterator[PostgresBehindProxy]:
    with store_proxy(*_shared_postgres()) as proxy, app_server({"DATABASE_URL": _through(proxy), **PG_TIMEOUTS}) as app:
        yield PostgresBehindProxy(proxy, app)


@pytest.fixture
def postgres(postgres_app: PostgresBehindProxy) -> Iterator[PostgresBehindProxy]:
    """The app with its PostgreSQL reachable at the start of the test, and again after it."""
    yield postgres_app
    postgres_app.proxy.restore()
    assert wait_until(lambda: post(postgres_app.app, TASKS, {"m": marker()}).status_code == 200, 30)


def test_with_postgres_cut_every_operation_answers_503_naming_it(postgres: PostgresBehindProxy) -> None:
    postgres.proxy.cut()

    for accept in (GRAPHQL_RESPONSE, "application/json"):
        answer = post(postgres.app, TASKS, {"m": marker()}, accept=accept)
        assert_nothing_answered(answer, "postgres", media_type=accept)
    created = post(postgres.app, 'mutation { createTag(name: "cut", color: "#aabbcc") { id } }')
    assert_nothing_answered(created, "postgres")
    assert "postgres unavailable" in postgres.app.log()


def test_with_postgres_stalled_requests_end_as_503_instead_of_hanging(postgres: PostgresBehindProxy) -> None:
    postgres.proxy.stall()

    for _ in range(2):  # the pooled connection's statement times out; then a new connection's connect does
        assert_nothing_answered(post(postgres.app, TASKS, {"m": marker()}), "postgres")


def test_ready_is_503_while_postgres_is_unreachable_or_stalled_with_a_short_reason(
    postgres: PostgresBehindProxy,
) -> None:
    for outage, reason in ((postgres.proxy.cut, "unreachable"), (postgres.proxy.stall, "timeout")):
        outage()
        ready = httpx.get(f"{postgres.app.base_url}/health/ready", timeout=GUARD_S)

        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert (body["status"], body["failing"], body["degraded"]) == ("not_ready", ["postgres", "migrations"], [])
        assert body["checks"]["postgres"] == {"status": "down", "error": reason}
        assert body["checks"]["migrations"] == {"status": "unknown", "error": reason}
        assert body["checks"]["mongodb"]["status"] == body["checks"]["redis"]["status"] == "up"
        assert_no_driver_text(ready.text)
        postgres.proxy.restore()


def test_when_postgres_comes_back_the_app_answers_again(postgres: PostgresBehindProxy) -> None:
    postgres.proxy.cut()
    assert post(postgres.app, TASKS, {"m": marker()}).status_code == 503

    postgres.proxy.restore()

    assert wait_until(lambda: post(postgres.app, TASKS, {"m": marker()}).status_code == 200, 30)
    assert httpx.get(f"{postgres.app.base_url}/health/ready", timeout=GUARD_S).json()["status"] == "ready"


def test_a_failed_root_field_costs_the_direct_path_no_more_store_attempts_than_graphql_core(
    postgres: PostgresBehindProxy,
) -> None:
    # Direct execution falls back to graphql-core on any error; the root field that failed must not be run (and
    # the store waited for) a second time.
    env = {"DATABASE_URL": _through(postgres.proxy), "GRAPHQL_DIRECT_EXECUTION": "false", **PG_TIMEOUTS}
    classic = start_app(env)
    try:
        postgres.proxy.reject()
        apps = {"direct": postgres.app, "classic": classic}
        for app in apps.values():  # the first failure after the cut also replaces the pool's dead connections
            assert_nothing_answered(post(app, TASKS, {"m": marker()}), "postgres")
        attempts = {}
        for name, app in apps.items():
            before = postgres.proxy.rejected
            assert_nothing_answered(post(app, TASKS, {"m": marker()}), "postgres")
            attempts[name] = postgres.proxy.rejected - before
    finally:
        classic.stop()

    # At least one attempt each (the request did reach the store); a pool may add a reconnect of its own in the
    # window, so graphql-core's count is a ceiling for the direct path, not an exact figure
    assert attempts["direct"] >= 1 and attempts["classic"] >= 1, attempts
    assert attempts["direct"] <= attempts["classic"], attempts
