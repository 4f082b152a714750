"""ASGI middleware at the edge: request ids, the access log (app.http.access_log), CORS allow-list, admission
control (app.http.admission), request body limit, WebSocket Origin check.

All are plain ASGI (no BaseHTTPMiddleware): they stream, and context variables set here are visible to
the endpoint because it runs in the same task.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import orjson
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http import request_ids
from app.http.access_log import AccessLog
from app.http.admission import AdmissionControl
from app.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
# Custom close code for refused WebSocket handshakes (sent before accept, servers answer HTTP 403).
WS_POLICY_VIOLATION = 1008


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


class RequestIdMiddleware:
    """Binds X-Request-Id (the client's when plain, else a new one) for logs and audit rows; echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_ids.accept_or_new(_header(scope, REQUEST_ID_HEADER.encode()))
        token = request_ids.bind(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        # A WebSocket's logs carry the id, but its messages go straight through: a wrapper here would run
        # for every event sent to every subscriber.
        outgoing = send if scope["type"] == "websocket" else send_with_id
        try:
            await self.app(scope, receive, outgoing)
        finally:
            request_ids.unbind(token)


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for HTTP request bodies over max_bytes: by Content-Length before reading, else while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = orjson.dumps(
            {
                "errors": [
                    {
                        "message": f"request body exceeds {self.max_bytes} bytes",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE", "maxBytes": self.max_bytes},
                    }
                ]
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def origin_allowed(origin: str, *, allow_list: Sequence[str], host: str | None) -> bool:
    """Same-origin (the Origin's host is the Host header), listed, or everything allowed by '*'."""
    if "*" in allow_list or origin.rstrip("/") in allow_list:
        return True
    parts = urlsplit(origin)
    return host is not None and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


class WebSocketOriginCheck:
    """Refuses WebSocket handshakes from browser pages of other origins (cross-site WebSocket hijacking).

    Clients that are not browsers send no Origin header and are let through: they need a token anyway.
    """

    def __init__(self, app: ASGIApp, *, allow_list: Sequence[str]) -> None:
        self.app = app
        self.allow_list = list(allow_list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if origin is not None and not origin_allowed(
                origin, allow_list=self.allow_list, host=_header(scope, b"host")
            ):
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                return
        await self.app(scope, receive, send)


def edge_middleware(settings: Settings) -> list[Middleware]:
    """The middleware stack for create_app, outermost first."""
    origins = settings.cors_allow_origins
    return [
        Middleware(RequestIdMiddleware),
        Middleware(AccessLog),
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "accept", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "retry-after"],
            max_age=600,
        ),
        Middleware(AdmissionControl, max_in_flight=settings.http_max_in_flight, max_queued=settings.http_max_queued,
                   queue_timeout_s=settings.http_queue_timeout_s),
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        Middleware(WebSocketOriginCheck, allow_list=origins),
    ]
