"""Abuse protection through the API: cost in every response, QUERY_TOO_COMPLEX before execution, a rate
limit shared by two server processes (429 + Retry-After), body size limit, CORS."""

from __future__ import annotations

import httpx
import pytest

from app.settings import Settings
from tests.access.test_authentication import app_client
from tests.access.transport import error_codes, over_http
from tests.access.world import World
from tests.support.graphql import codes, gql
from tests.support.processes import app_server

BOARD = """query($first: Int) { tasks(first: $first) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id title status priority dueDate tags { id name color } assignee { id name } } } } }"""
PAGE = "{ tasks(first: 3) { nodes { id title } } }"  # 1 + 1 + 3 x 2 = 8


async def test_every_response_reports_its_cost(client: httpx.AsyncClient) -> None:
    assert (await gql(client, "{ apiVersion }"))["extensions"]["cost"] == 1
    assert (await gql(client, "{ __typename }"))["extensions"]["cost"] == 1  # selects nothing costly: still 1
    assert (await gql(client, BOARD, {"first": 50}))["extensions"]["cost"] == 3556
    assert (await gql(client, BOARD))["extensions"]["cost"] == 1426  # default page of 20
    created = await gql(client, 'mutation { createTask(input: {title: "c"}) { id title } }')
    assert created["extensions"]["cost"] == 10 + 2
    failed = await gql(client, 'mutation { createTask(input: {title: ""}) { id } }')
    assert codes(failed) == ["VALIDATION_FAILED"] and failed["extensions"]["cost"] == 11


async def test_too_costly_operations_are_refused_before_they_run(settings: Settings, world: World) -> None:
    async with app_client(settings, query_max_cost=100) as http:
        http.headers.update(world.root.headers())
        body = await gql(http, "{ tasks(first: 100) { nodes { id title } } }")
        assert codes(body) == ["QUERY_TOO_COMPLEX"] and body["_status"] == 400
        assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 202, "maxCost": 100}
        assert body["extensions"]["cost"] == 202
        # A mutation over the limit writes nothing.
        mutation = await gql(http, 'mutation { createTask(input: {title: "never"}) '
                                   "{ assignee { tasks(first: 100) { nodes { id } } } } }")
        assert codes(mutation) == ["QUERY_TOO_COMPLEX"]
        assert "never" not in str(await gql(http, "{ tasks(first: 50) { nodes { title } } }"))
        assert "errors" not in await gql(http, "{ tasks(first: 40) { nodes { id title } } }")  # 82: fine


# A day per 40 points: one point refills every 36 minutes, so no test here sees a refill however slowly it
# runs (a 60 s window refilled a point every 1.5 s, and a slow run of 41 requests got 41 through).
LIMITED = {"RATE_LIMIT_POINTS": "40", "RATE_LIMIT_WINDOW_S": "86400", "QUERY_MAX_COST": "40"}


@pytest.fixture(scope="module")
def two_limited_instances():
    env = LIMITED
    with app_server(env) as a, app_server(env) as b:
        yield a, b


async def test_the_budget_is_shared_by_two_instances(two_limited_instances, fresh_buckets, world: World) -> None:
    a, b = two_limited_instances
    token = world.alice.token()
    # 40 points at 8 per query: five queries, whichever instance serves them.
    results = [await over_http((a if i % 2 else b).base_url, PAGE, {}, token) for i in range(6)]
    assert [error_codes(r) for r in results] == [[]] * 5 + [["RATE_LIMITED"]]
    denied = results[-1]
    assert denied["_status"] == 429
    retry_after = denied["errors"][0]["extensions"]["retryAfter"]
    assert 17_000 < retry_after <= 17_280  # the 8 points PAGE costs refill in 8 x 86400 s / 40
    assert [r["extensions"]["rateLimit"]["remaining"] for r in results[:5]] == [32, 24, 16, 8, 0]
    # The other user's budget is untouched; the limited user is limited on both instances.
    assert error_codes(await over_http(a.base_url, PAGE, {}, world.bob.token())) == []
    assert error_codes(await over_http(a.base_url, PAGE, {}, token)) == ["RATE_LIMITED"]


async def test_the_429_carries_a_retry_after_header(two_limited_instances, fresh_buckets, world: World) -> None:
    a, _ = two_limited_instances
    headers = {**world.alice.headers(), "accept": "application/json"}
    async with httpx.AsyncClient(base_url=a.base_url, headers=headers) as http:
        for _ in range(5):
            assert (await http.post("/graphql", json={"query": PAGE})).status_code == 200
        limited = await http.post("/graphql", json={"query": PAGE})
    assert limited.status_code == 429
    assert 17_000 < int(limited.headers["retry-after"]) <= 17_280
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_anonymous_callers_are_limited_by_address(two_limited_instances, fresh_buckets) -> None:
    a, b = two_limited_instances
    results = [await over_http((a if i % 2 else b).base_url, "{ apiVersion }", {}, None) for i in range(41)]
    assert sum(not error_codes(r) for r in results) == 40
    assert error_codes(results[-1]) == ["RATE_LIMITED"]


async def test_oversized_request_bodies_are_refused(settings: Settings) -> None:
    async with app_client(settings, max_body_bytes=2048) as http:
        response = await http.post("/graphql", json={"query": "{ apiVersion }", "variables": {"pad": "x" * 4096}})
        assert response.status_code == 413
        assert (await http.post("/graphql", json={"query": "{ apiVersion }"})).status_code == 200


async def test_cors_answers_only_listed_origins(settings: Settings) -> None:
    async with app_client(settings, cors_allow_origins=["https://board.example"]) as http:
        preflight = {"access-control-request-method": "POST", "access-control-request-headers": "authorization"}
        ok = await http.options("/graphql", headers={"origin": "https://board.example", **preflight})
        assert ok.headers["access-control-allow-origin"] == "https://board.example"
        other = await http.options("/graphql", headers={"origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
