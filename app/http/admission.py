"""Admission control for /graphql over HTTP: a process past its capacity sheds load instead of collapsing.

Without a bound, a process offered more requests than it can serve takes every one of them on: each waits
longer, clients time out and go, and the process still spends its CPU finishing answers nobody reads, so
the requests it completes in time fall far below what it can serve (the mixed benchmark saw 300 requests/s
offered answered at 120/s on a process that serves 200/s). Here at most HTTP_MAX_IN_FLIGHT requests run at
once; the next ones wait in arrival order, at most HTTP_MAX_QUEUED of them and at most HTTP_QUEUE_TIMEOUT_S
each. A request refused (the queue full, or its wait over) gets 503 with Retry-After and a GraphQL error
coded OVERLOADED before anything of it is read or executed, so the work the process does goes to requests
that will be answered in time. Refusals are counted in `taskboard_http_requests_shed_total{reason}`.

Only HTTP requests to /graphql are admitted here: health checks and /metrics must answer while the process is
saturated, and a WebSocket is admitted once, by its own caps (app.graphql.ws_slots).
"""

from __future__ import annotations

import asyncio
from collections import deque

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from app.metrics import HTTP_IN_FLIGHT, HTTP_QUEUED, REQUESTS_SHED

OVERLOADED = "OVERLOADED"
RETRY_AFTER_S = 1


class AdmissionControl:
    """At most `max_in_flight` /graphql requests at once; up to `max_queued` more wait, each `queue_timeout_s`."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, max_queued: int, queue_timeout_s: float,
                 path: str = "/graphql") -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self.queue_timeout_s = queue_timeout_s
        self.path = path
        self.in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if self.in_flight < self.max_in_flight and not self._waiting:
            self.in_flight += 1
            HTTP_IN_FLIGHT.inc()
        elif not await self._wait_for_a_slot(send):
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    async def _wait_for_a_slot(self, send: Send) -> bool:
        """Queue for a slot; False (answered 503) when the queue is full or the wait ran out."""
        if len(self._waiting) >= self.max_queued:
            await self._refuse(send, "queue_full")
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        HTTP_QUEUED.inc()
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.queue_timeout_s)
            return True  # _release handed its slot over: in_flight already counts this request
        except TimeoutError:
            if turn.done():  # handed over just as the wait ran out: it is ours, use it
                return True
            self._waiting.remove(turn)
            HTTP_QUEUED.dec()
            await self._refuse(send, "queue_timeout")
            return False
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release()  # handed over to a request that went away: pass it on
            elif turn in self._waiting:
                self._waiting.remove(turn)
                HTTP_QUEUED.dec()
            raise

    def _release(self) -> None:
        """Hand this slot to the first request still waiting, or free it."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                HTTP_QUEUED.dec()
                return
        self.in_flight -= 1
        HTTP_IN_FLIGHT.dec()

    async def _refuse(self, send: Send, reason: str) -> None:
        REQUESTS_SHED.inc(reason)
        body = orjson.dumps({"errors": [{
            "message": "the server is overloaded: retry later",
            "extensions": {"code": OVERLOADED, "retryAfterS": RETRY_AFTER_S},
        }]})
        await send({
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(RETRY_AFTER_S).encode())],
        })
        await send({"type": "http.response.body", "body": body})
