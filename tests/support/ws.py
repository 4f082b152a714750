"""A minimal GraphQL WebSocket client for both subprotocols (graphql-transport-ws and legacy graphql-ws)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets

from tests.support.auth import admin_headers

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
_DATA = {TRANSPORT_WS: "next", LEGACY_WS: "data"}
_START = {TRANSPORT_WS: "subscribe", LEGACY_WS: "start"}
_STOP = {TRANSPORT_WS: "complete", LEGACY_WS: "stop"}
_KEEPALIVE = {"ping", "pong", "ka"}
# Live subscriptions this test process holds through `subscription`, per server.
_LIVE: Counter[str] = Counter()
# How long to wait for a server to take a subscription (a bound against hanging, not a measure of speed).
_LIVE_WAIT_S = 30.0


async def _hub_gauges(base_url: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    gauges: Counter[str] = Counter()  # summed over worker processes' samples, if labelled per worker
    for name, value in re.findall(r"^taskboard_events_(subscribers|channels)(?:\{[^}]*\})? (\S+)$", text, re.M):
        gauges[name] += int(float(value))
    return dict(gauges)


async def until_live(base_url: str, subscribers: int) -> None:
    """Wait until the server's events hub holds exactly `subscribers` subscribers on a subscribed channel.

    A subscribe message is processed asynchronously: a test that writes right after sending one could
    publish before the server subscribed (on a busy machine it does). From here on, a write reaches them.
    """
    deadline = asyncio.get_running_loop().time() + _LIVE_WAIT_S
    while True:
        gauges = await _hub_gauges(base_url)
        if gauges.get("subscribers") == subscribers and gauges.get("channels", 0) >= 1:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the server never held {subscribers} live subscriber(s): {gauges}")
        await asyncio.sleep(0.02)


class Subscriber:
    def __init__(self, socket: Any, protocol: str) -> None:
        self.socket = socket
        self.protocol = protocol

    async def next_message(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next non-keepalive message (answers pings)."""
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
            if message["type"] == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
            if message["type"] not in _KEEPALIVE:
                return message

    async def next_payload(self, timeout: float = 10.0) -> dict[str, Any]:
        """The payload of the next data message (fails on anything else)."""
        message = await self.next_message(timeout)
        assert message["type"] == _DATA[self.protocol], message
        return message["payload"]

    async def nothing_within(self, seconds: float) -> bool:
        """True when no data message arrives within `seconds`."""
        try:
            message = await self.next_message(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message {message}")


@asynccontextmanager
async def subscription(
    base_url: str, query: str, variables: dict[str, Any] | None = None, *, protocol: str = TRANSPORT_WS,
    init_payload: dict[str, Any] | None = None, live: bool = True, connect_options: dict[str, Any] | None = None,
) -> AsyncIterator[Subscriber]:
    """Connect, initialise, subscribe, and (unless `live=False`: a subscription the server refuses) wait
    until the server holds it; stop and close at the end. `connect_options` go to `websockets.connect`."""
    url = base_url.replace("http://", "ws://") + "/graphql"
    if init_payload is None:
        init_payload = admin_headers()  # signed in as an admin unless the test says otherwise
    async with websockets.connect(url, subprotocols=[protocol], **(connect_options or {})) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": init_payload}))
        subscriber = Subscriber(socket, protocol)
        ack = await subscriber.next_message()
        assert ack["type"] == "connection_ack", ack
        await socket.send(json.dumps({"id": "1", "type": _START[protocol],
                                      "payload": {"query": query, "variables": variables or {}}}))
        if live:
            _LIVE[base_url] += 1
        try:
            if live:
                await until_live(base_url, _LIVE[base_url])
            yield subscriber
        finally:
            if live:
                _LIVE[base_url] -= 1
        try:
            await socket.send(json.dumps({"id": "1", "type": _STOP[protocol]}))
        except websockets.ConnectionClosed:
            pass


async def post_as_admin(base_url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The data of a document posted over HTTP as the suite's admin (asserting no errors)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=admin_headers()) as http:
        body = (await http.post("/graphql", json={"query": query, "variables": variables or {}})).json()
    assert "errors" not in body, body
    return body["data"]


async def subscription_counters(base_url: str) -> dict[str, int]:
    """The server's subscription-event counters: executed and shared results, masked ones, unmaskable documents."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    found = dict(re.findall(r'taskboard_subscription_event_results_total\{source="(\w+)"\} (\d+)', text))
    found.update(re.findall(r'taskboard_subscription_event_masking_total\{outcome="(\w+)"\} (\d+)', text))
    return {name: int(found.get(name, 0)) for name in ("executed", "shared", "masked", "unmaskable")}


async def subscription_deliveries(base_url: str) -> dict[str, int]:
    """The server's subscription results sent, by path: strawberry's pipeline, direct through the ASGI send, or
    direct as a frame written to the socket by the subscriber's task (frame) or at the event's arrival (inline)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    found = dict(re.findall(r'taskboard_subscription_deliveries_total\{path="(\w+)"\} (\d+)', text))
    return {path: int(found.get(path, 0)) for path in ("pipeline", "direct", "frame", "inline")}


def counters_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}
