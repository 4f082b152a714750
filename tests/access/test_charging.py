"""Every request is charged to its caller's budget exactly once, whatever becomes of it: free-looking
(`{ __typename }`), unparsable, invalid, unauthenticated, too costly, a hash-only APQ request, a body
strawberry cannot read, and every WebSocket subscribe/start message on both subprotocols. A client that
floods any of them gets RATE_LIMITED like any other."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from tests.access.test_abuse import LIMITED
from tests.access.transport import error_codes
from tests.access.world import World
from tests.support.graphql import GRAPHQL_RESPONSE
from tests.support.processes import app_server
from tests.support.ws import LEGACY_WS, TRANSPORT_WS

BUDGET = int(LIMITED["RATE_LIMIT_POINTS"])
UNKNOWN_HASH = "0" * 64
CHANGED = "subscription { taskChanged { kind } }"


@pytest.fixture(scope="module")
def limited():
    # One operation per WebSocket connection, so a second subscribe is refused by the handler itself.
    with app_server({**LIMITED, "WS_MAX_SUBSCRIPTIONS": "1"}) as server:
        yield server


@dataclass(frozen=True)
class Answer:
    status: int
    codes: list[str]
    remaining: int | None = None


Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def post(body: Any) -> Send:
    return lambda http: http.post("/graphql", json=body)


def raw_post(content: bytes) -> Send:
    return lambda http: http.post("/graphql", content=content, headers={"content-type": "application/json"})


async def answer(http: httpx.AsyncClient, send: Send) -> Answer:
    response = await send(http)
    if not response.headers.get("content-type", "").startswith((GRAPHQL_RESPONSE, "application/json")):
        return Answer(response.status_code, [])  # strawberry's plain-text refusals
    body = response.json()
    rate_limit = (body.get("extensions") or {}).get("rateLimit") or {}
    return Answer(response.status_code, error_codes(body), rate_limit.get("remaining"))


API_VERSION = post({"query": "{ apiVersion }"})

# name: (what is sent, whether alice sends it (else an anonymous caller), the status it answers on its own)
REQUESTS: dict[str, tuple[Send, bool, int]] = {
    "typename": (post({"query": "{ __typename }"}), False, 200),
    "parse error": (post({"query": "{"}), False, 400),
    "validation error": (post({"query": "{ nope }"}), False, 400),
    "unknown operation name": (post({"query": "{ apiVersion }", "operationName": "Nope"}), False, 400),
    "unknown APQ hash": (post({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": UNKNOWN_HASH}}}), False, 400),
    "unauthenticated": (post({"query": "{ tasks(first: 1) { totalCount } }"}), False, 401),
    "malformed body": (raw_post(b"{not json"), False, 400),
    "signed-in validation error": (post({"query": "{ nope }"}), True, 400),
    "too costly": (post({"query": "{ tasks(first: 100) { nodes { id } } }"}), True, 400),
}


@pytest.mark.parametrize("name", list(REQUESTS))
async def test_a_flood_of_any_request_runs_out_of_budget(limited, fresh_buckets, world: World, name: str) -> None:
    send, signed_in, own_status = REQUESTS[name]
    headers = {"accept": GRAPHQL_RESPONSE, **(world.alice.headers() if signed_in else {})}
    async with httpx.AsyncClient(base_url=limited.base_url, headers=headers, timeout=15) as http:
        # One of them costs exactly one point: the next valid request has BUDGET - 2 left
        first = await answer(http, send)
        assert first.status == own_status and "RATE_LIMITED" not in first.codes
        assert (await answer(http, API_VERSION)).remaining == BUDGET - 2
        # The rest of the budget goes the same way
        flood = [await answer(http, send) for _ in range(BUDGET - 2)]
        assert [a.status for a in flood] == [own_status] * (BUDGET - 2)
        # Then it is refused, and so is anything else from the same caller
        refused = await answer(http, send)
        after = await answer(http, API_VERSION)
    assert (refused.status, refused.codes) == (429, ["RATE_LIMITED"])
    assert (after.status, after.codes) == (429, ["RATE_LIMITED"])


async def test_the_429_of_a_refused_request_carries_retry_after_in_both_media_types(limited, fresh_buckets) -> None:
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=15) as http:
        for _ in range(BUDGET):
            await http.post("/graphql", content=b"[", headers={"content-type": "application/json"})
        strict = await http.post("/graphql", content=b"[", headers={"content-type": "application/json",
                                                                    "accept": GRAPHQL_RESPONSE})
        plain = await http.post("/graphql", content=b"[", headers={"content-type": "application/json",
                                                                   "accept": "application/json"})
    for response in (strict, plain):
        assert response.status_code == 429 and 2100 < int(response.headers["retry-after"]) <= 2160
        assert error_codes(response.json()) == ["RATE_LIMITED"]
    assert "data" not in strict.json() and plain.json()["data"] is None


async def test_a_bad_token_is_charged_to_the_address(limited, fresh_buckets) -> None:
    bad = {"accept": GRAPHQL_RESPONSE, "authorization": "Bearer garbage"}
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=15) as http:
        assert (await answer(http, lambda h: h.post("/graphql", json={"query": "{ apiVersion }"}, headers=bad))).codes \
            == ["UNAUTHENTICATED"]
        assert (await answer(http, API_VERSION)).remaining == BUDGET - 2


# ------------------------------------------------------------------------------------------ WebSockets

START = {TRANSPORT_WS: "subscribe", LEGACY_WS: "start"}


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


async def next_operation_message(socket: Any) -> dict[str, Any]:
    """The next message that is not a keep-alive."""
    while True:
        message = json.loads(await socket.recv())
        if message["type"] == "ping":
            await socket.send(json.dumps({"type": "pong"}))
        if message["type"] not in ("ping", "pong", "ka"):
            return message


def message_codes(message: dict[str, Any]) -> list[str]:
    payload = message.get("payload")
    errors = payload if isinstance(payload, list) else (payload or {}).get("errors", [payload])
    return [(error.get("extensions") or {}).get("code") or error.get("message") for error in errors]


async def connect(base_url: str, protocol: str, init_payload: dict[str, Any]) -> Any:
    socket = await websockets.connect(ws_url(base_url), subprotocols=[protocol])
    await socket.send(json.dumps({"type": "connection_init", "payload": init_payload}))
    assert (await next_operation_message(socket))["type"] == "connection_ack"
    return socket


async def remaining_of(base_url: str, headers: dict[str, str] | None = None) -> int | None:
    async with httpx.AsyncClient(base_url=base_url, headers=headers or {}, timeout=15) as http:
        return (await answer(http, API_VERSION)).remaining


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_flood_of_invalid_subscribe_messages_runs_out_of_budget(limited, fresh_buckets, protocol: str) -> None:
    socket = await connect(limited.base_url, protocol, {})
    try:
        async def subscribe(number: int) -> list[str]:
            await socket.send(json.dumps({"id": str(number), "type": START[protocol],
                                          "payload": {"query": "subscription { nope }"}}))
            message = await next_operation_message(socket)
            assert message["type"] == "error" and message["id"] == str(number), message
            return message_codes(message)

        assert await subscribe(0) == ["GRAPHQL_VALIDATION_FAILED"]
        assert await remaining_of(limited.base_url) == BUDGET - 2
        flood = [await subscribe(n) for n in range(1, BUDGET - 1)]
        assert flood == [["GRAPHQL_VALIDATION_FAILED"]] * (BUDGET - 2)
        assert await subscribe(BUDGET) == ["RATE_LIMITED"]
    finally:
        await socket.close()


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("mistake", ["before connection_init", "without a payload"])
async def test_subscribe_messages_the_handler_refuses_are_charged_too(
    limited, fresh_buckets, protocol: str, mistake: str
) -> None:
    async with websockets.connect(ws_url(limited.base_url), subprotocols=[protocol]) as socket:
        message: dict[str, Any] = {"id": "1", "type": START[protocol], "payload": {"query": CHANGED}}
        if mistake == "without a payload":
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert (await next_operation_message(socket))["type"] == "connection_ack"
            del message["payload"]
        await socket.send(json.dumps(message))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_operation_message(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == (4401 if mistake == "before connection_init" else 4400)
    assert await remaining_of(limited.base_url) == BUDGET - 2


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_subscribes_over_the_per_connection_limit_run_out_of_budget(
    limited, fresh_buckets, world: World, protocol: str
) -> None:
    # Given alice's socket runs its one allowed subscription
    socket = await connect(limited.base_url, protocol, world.alice.headers())
    try:
        await socket.send(json.dumps({"id": "live", "type": START[protocol], "payload": {"query": CHANGED}}))
        # When she keeps subscribing, each refusal costs a point (without that she could go on forever)
        answers: list[list[str]] = []
        while len(answers) <= BUDGET and ["RATE_LIMITED"] not in answers:
            await socket.send(json.dumps({"id": str(len(answers)), "type": START[protocol],
                                          "payload": {"query": CHANGED}}))
            answers.append(message_codes(await next_operation_message(socket)))
    finally:
        await socket.close()
    # Then her budget runs out within it (the live subscription cost some of it too)
    assert answers[-1] == ["RATE_LIMITED"] and 1 <= len(answers) - 1 < BUDGET
    assert answers[:-1] == [["Subscription limit reached"]] * (len(answers) - 1)
