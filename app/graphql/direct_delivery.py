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
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any

import orjson

from app.metrics import SUBSCRIPTION_DELIVERIES

_ENCODED_KEPT = 64


class EncodedMessage(str):
    """A WebSocket message already encoded as JSON text: the view sends it as it is."""

    __slots__ = ()


# Recent results' data encoded, by the identity of the data object (held, so the identity stays its own).
_encoded: OrderedDict[int, tuple[Any, str]] = OrderedDict()


def encoded_data(data: Any) -> str:
    """`data` as JSON text, encoded once however many subscribers send the same object."""
    held = _encoded.get(id(data))
    if held is not None and held[0] is data:
        return held[1]
    text = orjson.dumps(data).decode()
    _encoded[id(data)] = (data, text)
    while len(_encoded) > _ENCODED_KEPT:
        _encoded.popitem(last=False)
    return text


class DirectSink:
    """Where one graphql-transport-ws operation's shared results go: its handler's send, as `next` messages."""

    __slots__ = ("_head", "_is_completed", "_send", "_tail", "operation_id")

    def __init__(self, operation_id: str, send: Callable[[Any], Awaitable[None]],
                 is_completed: Callable[[], bool]) -> None:
        self.operation_id = operation_id
        self._send = send
        self._is_completed = is_completed
        self._head = '{"id":' + orjson.dumps(operation_id).decode() + ',"type":"next","payload":{"data":'
        self._tail: str | None = None

    @property
    def primed(self) -> bool:
        """Whether strawberry delivered a result of this operation (and the sink knows its extensions)."""
        return self._tail is not None

    def prime(self, payload: dict[str, Any]) -> None:
        """Note the extensions of a `next` payload strawberry sent for this operation."""
        extensions = payload.get("extensions")
        self._tail = (',"extensions":' + orjson.dumps(extensions).decode() if extensions else "") + "}}"

    async def deliver(self, data: Any) -> None:
        """Send an error-free result's data as the `next` message strawberry would have sent."""
        assert self._tail is not None, "deliver() before prime()"
        if self._is_completed():
            return  # as strawberry's Operation: nothing after complete
        await self._send(EncodedMessage(self._head + encoded_data(data) + self._tail))
        SUBSCRIPTION_DELIVERIES.inc("direct")


_current: ContextVar[DirectSink | None] = ContextVar("taskboard_direct_sink", default=None)


def activate(sink: DirectSink) -> Token[DirectSink | None]:
    """Make `sink` the current task's (the operation's own task: nothing else sees it)."""
    return _current.set(sink)


def deactivate(token: Token[DirectSink | None]) -> None:
    _current.reset(token)


def current_sink() -> DirectSink | None:
    """The sink of the operation running in this task, if its protocol has one."""
    return _current.get()
