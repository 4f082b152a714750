"""WebSocket text messages written to the socket as frames, bypassing the ASGI send chain, for hot paths.

A subscription event sent to a thousand subscribers goes a thousand times through Starlette's WebSocket,
strawberry's adapter, the ASGI send of uvicorn's sans-I/O WebSocket protocol and the websockets library's
frame building (extensions, an `Frame` object, its serializer), about half of what a delivery costs.
A server-to-client text message is a 2-10 byte header and the UTF-8 payload (RFC 6455 5.2: server frames
are not masked): `text_frame` builds it (once for every connection that sends the same message) and
`FrameWriter.write_frame` hands it to the transport in one `write`.

It is the uvicorn connection's own writer, used only when it is safe to be:

- `WebSocketFrames` (the outermost app middleware) finds uvicorn's protocol behind the ASGI `send` it is
  given (the bound `send` of `WebSocketsSansIOProtocol`, what `taskboard serve` runs). Under any other server
  or WebSocket implementation, or with a middleware in between, there is no writer and senders use the
  ASGI send as before.
- `write_frame` writes only while the connection is open for data (handshake done, no close sent or received,
  no fragmented message in progress, transport not closing) and the transport is not over its high-water
  mark; otherwise it writes nothing and returns False, and the caller sends through ASGI, which waits for the
  buffer to drain (so a slow reader still backs up into its bounded queue and is dropped, as before) or
  raises as it always did.
- Transport writes are whole frames, so they interleave with uvicorn's own (pings, close) at frame
  boundaries.
- With permessage-deflate negotiated the frames go uncompressed (RSV1 clear), which RFC 7692 section 6
  allows for any message; neither side's compression context is involved in an uncompressed message.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

SCOPE_KEY = "taskboard.frame_writer"
_OPEN = State.OPEN
_TEXT_FIN = 0x81


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented text frame (RFC 6455 5.2) carrying `payload` (UTF-8)."""
    size = len(payload)
    if size < 126:
        return bytes((_TEXT_FIN, size)) + payload
    if size < 1 << 16:
        return bytes((_TEXT_FIN, 126)) + size.to_bytes(2, "big") + payload
    return bytes((_TEXT_FIN, 127)) + size.to_bytes(8, "big") + payload


class FrameWriter:
    """Writes text messages straight to one uvicorn WebSocket connection's transport (see the module doc)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def write_frame(self, frame: bytes) -> bool:
        """Write one message framed by `text_frame` now; False, having written nothing, when it must go
        through the ASGI send instead."""
        protocol = self._protocol
        conn = protocol.conn
        transport: Any = protocol.transport
        if (
            protocol.disconnected or protocol.close_sent or not protocol.handshake_complete
            or protocol.initial_response is not None or conn.state is not _OPEN or conn.expect_continuation_frame
            or not protocol.writable.is_set() or transport.is_closing()
        ):
            return False
        transport.write(frame)
        return True


def frame_writer(scope: Scope) -> FrameWriter | None:
    """The connection's writer, when `WebSocketFrames` found one."""
    return scope.get(SCOPE_KEY)


class WebSocketFrames:
    """Puts a `FrameWriter` in each WebSocket scope whose ASGI send is uvicorn's sans-I/O protocol's own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            protocol = getattr(send, "__self__", None)
            if isinstance(protocol, WebSocketsSansIOProtocol) and getattr(send, "__func__", None) is _UVICORN_SEND:
                scope[SCOPE_KEY] = FrameWriter(protocol)
        await self.app(scope, receive, send)


_UVICORN_SEND = WebSocketsSansIOProtocol.send
