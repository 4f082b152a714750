"""The access log: one line per HTTP request, at INFO on the logger `taskboard.access`, written by the edge
middleware (uvicorn's own access log is off: app.cli).

    2026-12-03 12:51:50,123 INFO taskboard.access: 127.0.0.1:50412 "POST /graphql HTTP/1.1" 200 1532B 0.61ms id=4f0c...

It carries what uvicorn's line did and what it lacked: the response's size, the time from the request's
arrival at the edge to its last body byte, and the request id (X-Request-Id, as audit rows and other log
lines name it). The query string is left out: GET requests carry documents and variables there.

Cheap by construction, since every request pays it: no LogRecord, formatter or record copy (uvicorn's
formatter copies each record); the timestamp text is rebuilt once a second; lines are buffered and written
to stdout in one write at most FLUSH_AFTER_S after the first of them (or at BUFFER_CHARS), and at shutdown
(`flush`, called by the app's lifespan and at exit). Whether lines are written follows the logger's level
(LOG_LEVEL): at WARNING and above the middleware only passes messages through.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http import request_ids

LOGGER = logging.getLogger("taskboard.access")
FLUSH_AFTER_S = 0.25
BUFFER_CHARS = 64 * 1024


class LineBuffer:
    """Lines on their way to stdout: one write per FLUSH_AFTER_S (or per BUFFER_CHARS), in order."""

    def __init__(self, flush_after_s: float = FLUSH_AFTER_S, max_chars: int = BUFFER_CHARS) -> None:
        self.flush_after_s = flush_after_s
        self.max_chars = max_chars
        self._lines: list[str] = []
        self._chars = 0
        self._timer: asyncio.TimerHandle | None = None

    def write(self, line: str) -> None:
        self._lines.append(line)
        self._chars += len(line)
        if self._chars >= self.max_chars:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.flush_after_s, self.flush)
            except RuntimeError:  # no event loop: nothing would ever flush it later
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        text = "".join(self._lines)
        self._lines.clear()
        self._chars = 0
        stream = sys.stdout  # looked up each time: whatever stdout is now (tests capture it)
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: an access log never fails a request
            pass


class _Clock:
    """logging's default asctime ('%Y-%m-%d %H:%M:%S,mmm', local time), its seconds part cached."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        stamp = time.time()
        second = int(stamp)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._text},{int((stamp - second) * 1000):03d}"


_buffer = LineBuffer()
_clock = _Clock()
atexit.register(_buffer.flush)


def flush() -> None:
    """Write what is buffered now (shutdown)."""
    _buffer.flush()


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


class AccessLog:
    """Plain ASGI: notes the status and size of each HTTP response and writes its line when the last body
    message has gone out (or when the app ends without one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not LOGGER.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        size = 0
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            elapsed_ms = (time.perf_counter() - started) * 1000
            _buffer.write(
                f'{_clock.now()} INFO taskboard.access: {_client(scope)} "{scope["method"]} {scope["path"]} '
                f'HTTP/{scope["http_version"]}" {status} {size}B {elapsed_ms:.2f}ms '
                f"id={request_ids.current_request_id() or '-'}\n"
            )

        async def noting(message: Message) -> None:
            nonlocal status, size
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
            elif kind == "http.response.body":
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    await send(message)
                    if not logged:
                        log()
                    return
            await send(message)

        try:
            await self.app(scope, receive, noting)
        except BaseException:
            if not logged:
                status = status or 500  # what Starlette's outermost ServerErrorMiddleware answers
                log()
            raise
        if not logged:
            log()  # no complete response (the client left): status 0 when none began
