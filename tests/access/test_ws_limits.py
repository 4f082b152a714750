"""WebSocket limits over real sockets against real uvicorn app processes: connection_init within
WS_CONNECTION_INIT_TIMEOUT_S on both subprotocols, messages no larger than MAX_BODY_BYTES, and at most
WS_MAX_CONNECTIONS_PER_PRINCIPAL / WS_MAX_CONNECTIONS_PER_ADDRESS open sockets (per process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import websockets

from tests.access.world import World
from tests.support.processes import app_server
from tests.support.ws import LEGACY_WS, TRANSPORT_WS

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]
PER_PRINCIPAL, PER_ADDRESS, MAX_BODY = 2, 3, 4096
# How long a test waits for something the server must do (never a measure of how fast it does it).
PATIENCE_S = 20


@pytest.fixture(scope="module")
def impatient():
    """Closes sockets that have not sent connection_init after 1 s (nothing else runs here)."""
    with app_server({"WS_CONNECTION_INIT_TIMEOUT_S": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def capped():
    with app_server({"WS_MAX_CONNECTIONS_PER_PRINCIPAL": str(PER_PRINCIPAL),
                     "WS_MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS),
                     "MAX_BODY_BYTES": str(MAX_BODY)}) as server:
        yield server


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


async def closed_with(socket: Any) -> tuple[int, str]:
    """Read until the server closes the socket: its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(socket.recv(), PATIENCE_S)
    assert closed.value.rcvd is not None, "the server did not send a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def signed_in(base_url: str, protocol: str, payload: dict[str, Any]) -> Any:
    """An open socket whose connection_init was acknowledged (or one the server closed: see closed_with)."""
    socket = await websockets.connect(ws_url(base_url), subprotocols=[protocol])
    try:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    except websockets.ConnectionClosed:
        pass  # refused right after the handshake (no slot yet): acknowledged() and closed_with() read the close
    return socket


async def acknowledged(socket: Any) -> bool:
    while True:
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), PATIENCE_S))
        except websockets.ConnectionClosed:
            return False
        if message["type"] == "connection_ack":
            return True


@asynccontextmanager
async def open_sockets(base_url: str, payloads: list[dict[str, Any]], protocol: str) -> AsyncIterator[list[Any]]:
    async with AsyncExitStack() as stack:
        sockets = []
        for payload in payloads:
            socket = await signed_in(base_url, protocol, payload)
            stack.push_async_callback(socket.close)
            assert await acknowledged(socket)
            sockets.append(socket)
        yield sockets


async def eventually_acknowledged(base_url: str, protocol: str, payload: dict[str, Any]) -> Any:
    """A new socket once the server has released a slot (it does so when it sees the close: poll)."""
    for _ in range(200):
        socket = await signed_in(base_url, protocol, payload)
        if await acknowledged(socket):
            return socket
        await asyncio.sleep(0.05)
    raise AssertionError("no slot was freed")


# ------------------------------------------------------------------------------------ connection_init


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_without_connection_init_is_closed_after_the_timeout(impatient, protocol: str) -> None:
    async with websockets.connect(ws_url(impatient.base_url), subprotocols=[protocol]) as socket:
        code, reason = await closed_with(socket)
    assert (code, reason) == (4408, "Connection initialisation timeout")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_that_sends_connection_init_stays_open(impatient, protocol: str) -> None:
    async with websockets.connect(ws_url(impatient.base_url), subprotocols=[protocol]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert await acknowledged(socket)
        await asyncio.sleep(1.5)  # past the timeout: the acknowledged socket is not closed
        pong = await socket.ping()
        await asyncio.wait_for(pong, PATIENCE_S)
        assert socket.close_code is None


# ---------------------------------------------------------------------------------------- message size


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_over_max_body_bytes_closes_the_socket(capped, protocol: str) -> None:
    async with open_sockets(capped.base_url, [{}], protocol) as [socket]:
        query = "subscription { taskChanged { kind } }" + " " * MAX_BODY
        await socket.send(json.dumps({"id": "1", "type": "subscribe" if protocol == TRANSPORT_WS else "start",
                                      "payload": {"query": query}}))
        code, _ = await closed_with(socket)
    assert code == 1009  # message too big


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_within_max_body_bytes_is_read(capped, protocol: str) -> None:
    async with open_sockets(capped.base_url, [{}], protocol) as [socket]:
        query = "subscription { taskChanged { kind } }" + " " * (MAX_BODY - 200)
        start = "subscribe" if protocol == TRANSPORT_WS else "start"
        await socket.send(json.dumps({"id": "1", "type": start, "payload": {"query": query}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), PATIENCE_S))
        while message["type"] == "ka":
            message = json.loads(await asyncio.wait_for(socket.recv(), PATIENCE_S))
    # Read and run: an anonymous subscriber is refused by access control
    assert message["id"] == "1" and message["type"] in ("next", "data"), message
    assert [error["extensions"]["code"] for error in message["payload"]["errors"]] == ["UNAUTHENTICATED"]


# ----------------------------------------------------------------------------------- open sockets caps


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_one_principal_gets_a_limited_number_of_sockets(capped, world: World, protocol: str) -> None:
    alice = world.alice.headers()
    async with open_sockets(capped.base_url, [alice] * PER_PRINCIPAL, protocol) as sockets:
        # The next socket of alice is refused once connection_init names her
        refused = await signed_in(capped.base_url, protocol, alice)
        code, reason = await closed_with(refused)
        assert (code, reason) == (1008, f"too many open WebSockets for this user (at most {PER_PRINCIPAL})")
        # while bob, and anonymous sockets from the same address, still connect
        async with open_sockets(capped.base_url, [world.bob.headers(), {}], protocol):
            pass
        # Closing one of alice's frees a slot for her
        await sockets[0].close()
        again = await eventually_acknowledged(capped.base_url, protocol, alice)
        await again.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_one_address_gets_a_limited_number_of_sockets_until_they_sign_in(
    capped, world: World, protocol: str
) -> None:
    # Signed-in sockets count for their principal, not for the address
    async with open_sockets(capped.base_url, [world.alice.headers(), world.bob.headers()], protocol):
        async with open_sockets(capped.base_url, [{}] * PER_ADDRESS, protocol) as anonymous:
            # The next socket from this address is refused at the handshake
            async with websockets.connect(ws_url(capped.base_url), subprotocols=[protocol]) as refused:
                code, reason = await closed_with(refused)
            assert (code, reason) == (1008, f"too many open WebSockets from this address (at most {PER_ADDRESS})")
            # Closing one frees a slot
            await anonymous[0].close()
            again = await eventually_acknowledged(capped.base_url, protocol, {})
            await again.close()
