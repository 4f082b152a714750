"""Subscription results sent straight to the socket, without strawberry's per-result pipeline.

Every event strawberry delivers to a graphql-transport-ws subscriber passes through its stream loop
(`Schema._stream`: result conversion, every extension's get_results and on_stream_result hooks), the
handler's `next` message and the view's JSON encoder. For an event shared by many subscribers
(app.graphql.shared_execution) that is most of what a delivery costs, and none of it changes the bytes:

- results without errors: the error hooks (ErrorShaping, MaskErrors, process_errors) have nothing to do;
- `extensions` of a subscription's results are the same for every result: AccessControl's cost and rate-limit
  decision are fixed when the subscription starts; no other extension reports results.

So, on a graphql-transport-ws socket, the executor (SharedEventExecutor.cancellable_iterable) executes a
shared event itself and, when the result has no errors, hands it to this operation's `DirectSink`, which
writes the `next` message the handler would have written: the same JSON, with the result's data encoded
once for every subscriber that shares that result object. A sink delivers only after strawberry delivered
one result of the operation the usual way (`primed`, with the extensions of that message); results with
errors, unshared payloads, the legacy graphql-ws protocol and everything before the first result go the
usual way. The handler sets the sink for the operation's task (`activate`), so only that operation's
executor finds it.

Under uvicorn the message is written to the socket as one frame (app.http.websocket_frames, path `frame` in
the deliveries metric) when the connection allows it, and sent through the ASGI send (`direct`) when it does
not (a transport over its high-water mark, a closing connection, another server).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

import orjson

from app.http.websocket_frames import FrameWriter, text_frame
from app.metrics import SUBSCRIPTION_DELIVERIES

_ENCODED_KEPT = 64


class EncodedMessage(str):
    """A WebSocket message already encoded as JSON text: the view sends it as it is."""

    __slots__ = ()


K = TypeVar("K", bound=Hashable)

# Recent results' data encoded, by the identity of the data object (held, so the identity stays its own).
_encoded: OrderedDict[int, tuple[Any, bytes]] = OrderedDict()
# Recent messages framed, by the data object's identity and the message's head and tail (an operation id and
# extensions many subscribers share): a frame is built once for all of them.
_framed: OrderedDict[tuple[int, bytes, bytes], tuple[Any, bytes]] = OrderedDict()


def _kept(kept: OrderedDict[K, tuple[Any, bytes]], key: K, data: Any, build: Callable[[], bytes]) -> bytes:
    """What `build()` made for the object `data` under `key` (whose first part is id(data)), made once: the
    last _ENCODED_KEPT are kept, each holding its object so that a reused id never finds another's bytes."""
    held = kept.get(key)
    if held is not None and held[0] is data:
        return held[1]
    made = build()
    kept[key] = (data, made)
    while len(kept) > _ENCODED_KEPT:
        kept.popitem(last=False)
    return made


def framed_message(data: Any, head: bytes, tail: bytes) -> bytes:
    """The WebSocket frame of the message head + `data` as JSON + tail (app.http.websocket_frames)."""
    return _kept(_framed, (id(data), head, tail), data, lambda: text_frame(head + encoded_data(data) + tail))


def encoded_data(data: Any) -> bytes:
    """`data` as JSON (UTF-8), encoded once however many subscribers send the same object."""
    return _kept(_encoded, id(data), data, lambda: orjson.dumps(data))


class DirectSink:
    """Where one graphql-transport-ws operation's shared results go: its handler's send, as `next` messages."""

    __slots__ = ("_frames", "_head", "_is_completed", "_send", "_tail", "deliver_now", "operation_id")

    def __init__(self, operation_id: str, send: Callable[[Any], Awaitable[None]],
                 is_completed: Callable[[], bool], frames: FrameWriter | None = None) -> None:
        self.operation_id = operation_id
        self._send = send
        self._is_completed = is_completed
        self._frames = frames
        self._head = b'{"id":' + orjson.dumps(operation_id) + b',"type":"next","payload":{"data":'
        self._tail: bytes | None = None
        # Set by the operation's executor (app.graphql.shared_execution): delivers one payload (the value its
        # subscription field yields) without awaiting anything, or returns False; for inline steps (app.events).
        self.deliver_now: Callable[[Any], bool] | None = None

    @property
    def primed(self) -> bool:
        """Whether strawberry delivered a result of this operation (and the sink knows its extensions)."""
        return self._tail is not None

    def prime(self, payload: dict[str, Any]) -> None:
        """Note the extensions of a `next` payload strawberry sent for this operation."""
        extensions = payload.get("extensions")
        self._tail = (b',"extensions":' + orjson.dumps(extensions) if extensions else b"") + b"}}"

    async def deliver(self, data: Any) -> None:
        """Send an error-free result's data as the `next` message strawberry would have sent."""
        if self.write_now(data):
            return
        await self._send(EncodedMessage(self._message(data).decode()))
        SUBSCRIPTION_DELIVERIES.inc_soon("direct")

    def write_now(self, data: Any, *, path: str = "frame") -> bool:
        """`deliver` when it needs no waiting: written to the socket as a frame (or nothing to do after
        complete); False when it has to go through the ASGI send. `path`: the metric's, `inline` when
        written at the event's arrival (app.events.hub), without waking the operation's task."""
        if self._is_completed():
            return True  # as strawberry's Operation: nothing after complete
        if self._frames is None:
            return False
        assert self._tail is not None, "deliver() before prime()"
        if not self._frames.write_frame(framed_message(data, self._head, self._tail)):
            return False
        SUBSCRIPTION_DELIVERIES.inc_soon(path)
        return True

    def _message(self, data: Any) -> bytes:
        assert self._tail is not None, "deliver() before prime()"
        return self._head + encoded_data(data) + self._tail


_current: ContextVar[DirectSink | None] = ContextVar("taskboard_direct_sink", default=None)


def activate(sink: DirectSink) -> Token[DirectSink | None]:
    """Make `sink` the current task's (the operation's own task: nothing else sees it)."""
    return _current.set(sink)


def deactivate(token: Token[DirectSink | None]) -> None:
    _current.reset(token)


def current_sink() -> DirectSink | None:
    """The sink of the operation running in this task, if its protocol has one."""
    return _current.get()
