"""Run one GraphQL operation as a given caller over HTTP or over a WebSocket (graphql-transport-ws)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from tests.support.graphql import GRAPHQL_RESPONSE


async def over_http(base_url: str, query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
    headers = {"accept": GRAPHQL_RESPONSE}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    body["_status"] = response.status_code
    return body


async def over_websocket(base_url: str, query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
    """The operation's one result (a `next` payload, or the errors of an `error` message)."""
    url = base_url.replace("http://", "ws://") + "/graphql"
    payload = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await socket.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": query, "variables": variables}}))
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if message["type"] == "next":
                return message["payload"]
            if message["type"] == "error":
                return {"data": None, "errors": message["payload"]}
            if message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))


TRANSPORTS = {"http": over_http, "ws": over_websocket}


def error_codes(body: dict[str, Any]) -> list[str]:
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]
