"""Subscriptions and access: the principal comes from connection_init, bad tokens refuse the connection,
events are shaped per subscriber, and the stream ends when the subscriber's token expires."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
import websockets

from tests.access.transport import over_http
from tests.access.world import World
from tests.support.processes import app_server
from tests.support.ws import TRANSPORT_WS, subscription

CHANGED = "subscription { taskChanged { kind task { id title assignee { id email } } } }"


@pytest.fixture(scope="module")
def server():
    # No clock leeway here, so a short-lived token expires when the test expects it to.
    with app_server({"JWT_LEEWAY_S": "0"}) as process:
        yield process


def message_codes(message: dict) -> list[str]:
    """Codes of a refused operation: an `error` message, or a `next` whose payload has only errors."""
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
    assert message["type"] == "error" or message["payload"].get("data") is None, message
    return [e["extensions"]["code"] for e in errors or []]


def expires_at(token: str) -> float:
    """The token's `exp` claim (epoch seconds)."""
    claims = token.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["exp"])


def init(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def close_code_of_init(base_url: str, payload: dict) -> int | None:
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            while True:
                await asyncio.wait_for(socket.recv(), 10)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


@pytest.mark.parametrize("token", ["garbage", "expired"])
async def test_a_bad_token_in_connection_init_refuses_the_connection(server, world: World, token: str) -> None:
    value = world.alice.expired_token() if token == "expired" else "garbage"
    assert await close_code_of_init(server.base_url, init(value)) == 4403


async def test_without_a_token_subscribing_is_unauthenticated(server) -> None:
    async with subscription(server.base_url, CHANGED, init_payload={"client": "anonymous"}, live=False) as subscriber:
        message = await subscriber.next_message()
    assert message_codes(message) == ["UNAUTHENTICATED"]


async def test_events_are_shaped_for_each_subscriber(server, world: World) -> None:
    # Given a member and an admin subscribed
    async with (
        subscription(server.base_url, CHANGED, init_payload=init(world.alice.token())) as alice,
        subscription(server.base_url, CHANGED, init_payload=init(world.root.token())) as root,
    ):
        # When bob's task changes
        body = await over_http(server.base_url, 'mutation($id: ID!) { updateTask(id: $id, input: {title: "seen"}) '
                               "{ id } }", {"id": world.bobs_task}, world.bob.token())
        assert "errors" not in body
        member_event = (await alice.next_payload())["data"]["taskChanged"]
        admin_event = (await root.next_payload())["data"]["taskChanged"]

    # Then both get it, and only the admin sees the assignee's email
    assert member_event["task"]["assignee"] == {"id": world.bob.id, "email": None}
    assert admin_event["task"]["assignee"] == {"id": world.bob.id, "email": world.bob.email}
    assert member_event["kind"] == admin_event["kind"] == "UPDATED"


async def test_the_stream_ends_with_unauthenticated_when_the_token_expires(server, world: World) -> None:
    # The subscription is live (the server holds it: the token was valid when it started), so what ends it
    # is the expiry during the stream. Tokens count whole seconds from a floored iat: 5 s leaves 4 to 5.
    async with subscription(server.base_url, CHANGED, init_payload=init(world.alice.token(ttl_s=5))) as subscriber:
        message = await subscriber.next_message(timeout=30)
        assert message["type"] == "next", message
        errors = message["payload"]["errors"]
        assert [(e["extensions"]["code"], e["extensions"]["reason"]) for e in errors] == [("UNAUTHENTICATED", "expired")]
        assert (await subscriber.next_message(timeout=30))["type"] == "complete"


async def test_an_expired_connection_runs_no_further_operations(server, world: World) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as socket:
        # A whole-second token from a floored iat: 3 s leaves at least 2 for connection_init
        token = world.alice.token(ttl_s=3)
        await socket.send(json.dumps({"type": "connection_init", "payload": init(token)}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await asyncio.sleep(max(0.0, expires_at(token) - time.time()) + 0.5)  # sleeping only ever waits longer
        await socket.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": "{ tags { taskCount } }"}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert message_codes(message) == ["UNAUTHENTICATED"]
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["reason"] == "expired"


async def test_the_upgrade_requests_authorization_header_also_signs_in(server, world: World) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS],
                                  additional_headers=world.alice.headers()) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": "{ me { id } }"}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert message["payload"]["data"] == {"me": {"id": world.alice.id}}


async def test_websockets_from_another_origin_are_refused(server) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, subprotocols=[TRANSPORT_WS], origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
