"""strawberry's two WebSocket subprotocol handlers, held to the same limits.

- connection_init within WS_CONNECTION_INIT_TIMEOUT_S: graphql-transport-ws closes with 4408 on its own;
  the legacy graphql-ws handler would wait forever, so it gets the same timer, code and reason.
- Every `subscribe` (graphql-transport-ws) or `start` (graphql-ws) message is charged to the caller's
  rate-limit budget. One that reaches the schema is charged by AccessControl (its cost, or 1 point when it
  is refused there); one the handler refuses itself (malformed, before connection_ack, over the
  per-connection limit, a duplicate id) is charged 1 point here, and answers RATE_LIMITED when that is
  denied and the protocol allows an error for that id.
- A message that is not a JSON object, or a subscribe/start without an id and a payload with a query,
  closes the socket with 4400 (the handlers would otherwise fail with an exception).
- A socket over its caller's cap (app.graphql.ws_slots) is closed when connection_init signs it in.
- graphql-transport-ws operations get a DirectSink: shared subscription events without errors are sent
  through it, past strawberry's per-result pipeline (app.graphql.direct_delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from app.graphql import direct_delivery
from app.graphql.access import MIN_COST, LimiterSlot, rate_limited_error
from app.graphql.direct_delivery import DirectSink
from app.http.websocket_frames import frame_writer
from app.graphql.ws_slots import TooManySockets
from app.metrics import SUBSCRIPTION_DELIVERIES

INIT_TIMEOUT_CODE = 4408  # graphql-transport-ws's code, used for both subprotocols
INIT_TIMEOUT_REASON = "Connection initialisation timeout"
INVALID_MESSAGE_CODE = 4400
INVALID_MESSAGE_REASON = "Failed to parse message"


def _well_formed(message: dict[str, Any]) -> bool:
    """A subscribe/start message the handlers can read: a string id and a payload object with a query."""
    payload = message.get("payload")
    return isinstance(message.get("id"), str) and isinstance(payload, dict) and "query" in payload


class _ChargesRefusedMessages:
    """Shared by both handlers: charge a message the schema never sees."""

    view: Any
    context: Any
    websocket: Any
    send_message: Callable[[Any], Awaitable[None]]  # the handler's own

    async def _refuse(self, message: dict[str, Any], *, can_answer: bool) -> bool:
        """Charge a subscribe/start message the handler refuses itself. True when it is answered here
        (closed as malformed, or RATE_LIMITED when `can_answer`), False when the handler refuses it its way."""
        limiters: LimiterSlot = self.view.limiters
        decision = await limiters.charge(self.context.principal, self.context.client_ip, MIN_COST)
        if not _well_formed(message):
            await self._close_invalid()
            return True
        if decision is not None and not decision.allowed and can_answer:
            await self.send_message(self._error_message(message["id"], rate_limited_error(decision)))
            return True
        return False

    def _error_message(self, operation_id: str, error: GraphQLError) -> dict[str, Any]:
        raise NotImplementedError

    async def _close_invalid(self) -> None:
        await self.websocket.close(code=INVALID_MESSAGE_CODE, reason=INVALID_MESSAGE_REASON)

    async def _close_refused(self, refused: TooManySockets) -> None:
        await self.websocket.close(code=refused.code, reason=refused.reason)


class TransportWSHandler(_ChargesRefusedMessages, BaseGraphQLTransportWSHandler):
    """graphql-transport-ws (graphql-ws the library); its own init timeout already closes with 4408."""

    async def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict):
            await self._close_invalid()
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManySockets as refused:
            await self._close_refused(refused)

    async def run_operation(self, operation: Any) -> None:
        # The operation's own task: its executor and its `next` messages find this sink (app.graphql.direct_delivery).
        sink = DirectSink(operation.id, self.send_message, lambda: operation.completed,
                          frame_writer(self.context.request.scope))
        token = direct_delivery.activate(sink)
        try:
            await super().run_operation(operation)
        finally:
            direct_delivery.deactivate(token)

    async def send_message(self, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "next":
            SUBSCRIPTION_DELIVERIES.inc_soon("pipeline")
            # strawberry sends an operation's `next` messages from the operation's task: the sink in context is its.
            sink = direct_delivery.current_sink()
            if sink is not None and sink.operation_id == message.get("id"):
                sink.prime(message["payload"])
        await super().send_message(message)

    async def handle_subscribe(self, message: Any) -> None:
        well_formed = _well_formed(message)
        new_id = well_formed and message["id"] not in self.operations
        limit = self.max_subscriptions_per_connection
        under_limit = limit is None or len(self.operations) < limit
        if new_id and self.connection_acknowledged and under_limit:
            await super().handle_subscribe(message)  # AccessControl charges it
        elif not await self._refuse(message, can_answer=new_id and self.connection_acknowledged):
            await super().handle_subscribe(message)  # refuses it: 4401, 4409 or "Subscription limit reached"

    def _error_message(self, operation_id: str, error: GraphQLError) -> dict[str, Any]:
        return {"id": operation_id, "type": "error", "payload": [error.formatted]}


class LegacyWSHandler(_ChargesRefusedMessages, BaseGraphQLWSHandler):
    """graphql-ws (subscriptions-transport-ws), with the connection_init timeout it lacks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_received = False
        self._init_timeout: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        self._init_timeout = asyncio.create_task(self._close_without_init())
        try:
            await super().handle()
        finally:
            self._init_timeout.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._init_timeout

    async def _close_without_init(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self._init_received:
            await self.websocket.close(code=INIT_TIMEOUT_CODE, reason=INIT_TIMEOUT_REASON)

    async def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._close_invalid()
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        self._init_received = True
        try:
            await super().handle_connection_init(message)
        except TooManySockets as refused:
            await self.send_message({"type": "connection_error", "payload": {"message": refused.reason}})
            await self._close_refused(refused)

    async def handle_start(self, message: Any) -> None:
        well_formed = _well_formed(message)
        limit = self.max_subscriptions_per_connection
        # The handler replaces a running operation of the same id before it checks the limit.
        running = len(self.tasks) - (1 if well_formed and message["id"] in self.tasks else 0)
        under_limit = limit is None or running < limit
        if well_formed and self.connection_acknowledged and under_limit:
            await super().handle_start(message)  # AccessControl charges it
        elif not await self._refuse(message, can_answer=self.connection_acknowledged):
            await super().handle_start(message)  # refuses it: 4401 or "Subscription limit reached"

    async def send_message(self, message: Any) -> None:
        if message.get("type") == "data":
            SUBSCRIPTION_DELIVERIES.inc_soon("pipeline")
        await super().send_message(message)

    def _error_message(self, operation_id: str, error: GraphQLError) -> dict[str, Any]:
        return {"type": "error", "id": operation_id, "payload": error.formatted}
