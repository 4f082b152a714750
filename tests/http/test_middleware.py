"""Edge middleware on a small app: body size limit (declared and streamed), CORS allow-list, WebSocket
Origin check, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from app.http import request_ids
from app.http.middleware import edge_middleware, origin_allowed
from app.settings import Settings

LIMIT = 2048
ALLOWED = "https://board.example"


def build_app(calls: list[str]) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        calls.append("echo")
        return JSONResponse({"bytes": len(body), "requestId": request_ids.current_request_id()})

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    settings = Settings(_env_file=None, max_body_bytes=LIMIT, cors_allow_origins=ALLOWED)
    return Starlette(
        routes=[Route("/echo", echo, methods=["POST"]), WebSocketRoute("/ws", socket)],
        middleware=edge_middleware(settings),
    )


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
async def client(calls: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(build_app(calls)), base_url="http://testserver") as http:
        yield http


async def ws_greeting(headers: dict[str, str]) -> str:
    """Open /ws with the headers and return its first message (the transport lives in this task)."""
    transport = ASGIWebSocketTransport(build_app([]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        async with aconnect_ws("/ws", http, headers=headers) as ws:
            return await ws.receive_text()


async def test_a_body_within_the_limit_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"x" * LIMIT)
    assert response.status_code == 200 and response.json()["bytes"] == LIMIT


async def test_a_declared_oversized_body_is_refused_before_the_endpoint_runs(
    client: httpx.AsyncClient, calls: list[str]
) -> None:
    response = await client.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maxBytes": LIMIT}
    assert calls == []


async def test_a_streamed_body_without_length_is_counted(client: httpx.AsyncClient, calls: list[str]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 500

    response = await client.post("/echo", content=chunks())
    assert response.status_code == 413
    assert calls == []


async def test_a_lying_content_length_is_still_counted(client: httpx.AsyncClient, calls: list[str]) -> None:
    request = client.build_request("POST", "/echo", content=b"z" * (LIMIT * 2))
    request.headers["content-length"] = "10"
    response = await client.send(request)
    assert response.status_code == 413 and calls == []


async def test_cors_preflight_answers_listed_origins_only(client: httpx.AsyncClient) -> None:
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type"}
    allowed = await client.options("/echo", headers={"origin": ALLOWED, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = await client.options("/echo", headers={"origin": "https://evil.example", **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_simple_requests_from_other_origins_get_no_cors_headers(client: httpx.AsyncClient) -> None:
    listed = await client.post("/echo", content=b"{}", headers={"origin": ALLOWED})
    assert listed.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in listed.headers["access-control-expose-headers"].lower()
    other = await client.post("/echo", content=b"{}", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_request_ids_are_echoed_and_visible_to_the_endpoint(client: httpx.AsyncClient) -> None:
    given = await client.post("/echo", content=b"", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123" == given.json()["requestId"]
    fresh = await client.post("/echo", content=b"", headers={"x-request-id": "bad id\twith junk"})
    assert fresh.headers["x-request-id"] != "bad id\twith junk"
    assert len(fresh.headers["x-request-id"]) == 32
    assert request_ids.current_request_id() is None


@pytest.mark.parametrize(
    "headers",
    [{}, {"origin": ALLOWED}, {"origin": "http://testserver"}],
    ids=["no-origin", "listed-origin", "same-origin"],
)
async def test_websockets_open_without_origin_from_listed_or_same_origin(headers: dict[str, str]) -> None:
    assert await ws_greeting(headers) == "hello"


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


async def test_websockets_from_other_origins_are_refused() -> None:
    # Closed before accept: a server answers the handshake with 403; the in-process transport reports the close.
    with pytest.raises(BaseException) as error:  # noqa: PT011 - the transport wraps it in an exception group
        await ws_greeting({"origin": "https://evil.example"})
    [refusal] = [e for e in _leaves(error.value) if isinstance(e, WebSocketDisconnect)]
    assert refusal.code == 1008


def test_origin_rules() -> None:
    assert origin_allowed("https://a.example/", allow_list=["https://a.example"], host=None)
    assert origin_allowed("https://api.example", allow_list=[], host="api.example")
    assert not origin_allowed("https://api.example.evil", allow_list=[], host="api.example")
    assert not origin_allowed("null", allow_list=["https://a.example"], host="api.example")
    assert origin_allowed("https://anything", allow_list=["*"], host=None)
