"""The strawberry ASGI view, made to follow the GraphQL-over-HTTP spec.

- `application/graphql-response+json` when the client accepts it: request errors (parse, validation,
  variable coercion: the operation never ran) answer 400 without a `data` key.
- `application/json` otherwise (and without an Accept header): 200 with `data: null` and the errors.
- GET runs queries only (a mutation over GET is 405); POST runs everything; no multipart uploads.
- RATE_LIMITED answers 429 with Retry-After (any media type); UNAUTHENTICATED request errors answer 401
  with `application/graphql-response+json`.
- SERVICE_UNAVAILABLE (a store is down) with no data at all answers 503 (any media type); partial data
  answers as usual.
- WebSockets sign in with their connection_init payload; a bad token there refuses the connection.
- Automatic persisted queries (app.graphql.persisted_queries) are resolved first: the whole-response
  cache and execution see the query text. Only signed-in callers' queries are registered.
- Every request is charged to the caller's rate-limit budget exactly once: by AccessControl when it
  reaches the schema, by the response cache on a hit, and here (1 point) when it is answered before
  either (an APQ error, a body or method strawberry refuses); a denied charge answers 429 RATE_LIMITED.
- WebSockets: app.graphql.ws_protocols (both subprotocols) and app.graphql.ws_slots (open sockets per
  caller).
"""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

import orjson
from starlette import status
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from cross_web import HTTPException
from strawberry.types import ExecutionResult

from app.abuse.ratelimit import Decision
from app.auth.principal import ANONYMOUS, Principal
from app.auth.tokens import InvalidToken, TokenVerifier, authenticate, bearer_token
from app.graphql.access import LimiterSlot, rate_limited_error
from app.graphql.context import Context, build_context, sign_in_connection
from app.graphql.direct_delivery import EncodedMessage
from app.graphql.errors import shape_error
from app.graphql.graphiql import graphiql_page
from app.graphql.persisted_queries import PersistedQueries, PersistedQueryError
from app.graphql.persisted_queries import error_response as persisted_error_response
from app.graphql.response_cache import ResponseCache
from app.graphql.schema import TaskboardSchema
from app.graphql.strawberry_adapter import InvalidOperationTypeError
from app.graphql.ws_protocols import LegacyWSHandler, TransportWSHandler
from app.graphql.ws_slots import SocketSlots, TooManySockets
from app.metrics import WEBSOCKET_CONNECTIONS
from app.settings import Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_MEDIA_KEY = "taskboard.media_type"
_STATUS_KEY = "taskboard.status"
_RETRY_KEY = "taskboard.retry_after"
_PRINCIPAL_KEY = "taskboard.principal"


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when nothing acceptable is offered."""
    if not accept:
        return "application/json"
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if GRAPHQL_RESPONSE_JSON in offered:
        return GRAPHQL_RESPONSE_JSON
    if any(m in ("application/json", "application/*", "*/*") for m in offered):
        return "application/json"
    return None


def is_request_error(result: ExecutionResult) -> bool:
    """The operation never ran: no data, and no error belongs to a field path."""
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)


class TaskboardGraphQL(GraphQL):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, schema: TaskboardSchema, settings: Settings, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.settings = settings
        self.verifier = TokenVerifier.from_settings(settings)
        self.response_cache = ResponseCache(settings)
        self.persisted_queries = PersistedQueries(settings)
        self.limiters = LimiterSlot(settings)
        self.sockets = SocketSlots(
            per_principal=settings.ws_max_connections_per_principal,
            per_address=settings.ws_max_connections_per_address,
        )

    def encode_json(self, data: object) -> str:
        if isinstance(data, EncodedMessage):
            return data  # encoded by app.graphql.direct_delivery
        # str, not bytes: bytes would make strawberry send WebSocket frames as binary.
        return orjson.dumps(data).decode()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        if isinstance(request, Request):
            accept = request.headers.get("accept")
            media_type = negotiate(accept)
            if media_type is None and not (request.method == "GET" and "text/html" in (accept or "")):
                raise HTTPException(
                    status.HTTP_406_NOT_ACCEPTABLE, "Accept application/graphql-response+json or application/json"
                )
            request.scope[_MEDIA_KEY] = media_type or "application/json"
        context = build_context(request, response, self.settings, self.verifier, known=request.scope.get(_PRINCIPAL_KEY))
        if isinstance(request, Request):
            request.scope[_PRINCIPAL_KEY] = context.principal  # for APQ registration and refused requests
        return context

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own page with assets served by the app (strawberry's loads them from a CDN).
        return graphiql_page(request)

    async def on_ws_connect(self, context: Context) -> Any:
        try:
            sign_in_connection(context, self.verifier)
        except InvalidToken as error:
            raise ConnectionRejectionError({"message": error.message, "code": error.code, **error.extensions}) from None
        # Raises TooManySockets: the subprotocol handlers close the socket with its code and reason.
        self.sockets.sign_in(context.request.scope, context.principal, context.client_ip)
        return await super().on_ws_connect(context)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED, exc.reason) from exc
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Parse and variable errors leave strawberry before extensions see the result: shape them here too
        # (shaping is idempotent).
        if result.errors:
            result.errors = [shape_error(error) for error in result.errors]
        data = process_result(result)
        if result.data is None and any(
            (error.extensions or {}).get("code") == "SERVICE_UNAVAILABLE" for error in result.errors or ()
        ):
            # Nothing could be answered because a store is down: a retryable server-side failure.
            request.scope[_STATUS_KEY] = status.HTTP_503_SERVICE_UNAVAILABLE
        if not is_request_error(result):
            return data
        by_code = {(error.extensions or {}).get("code"): error for error in result.errors or ()}
        graphql_response = request.scope.get(_MEDIA_KEY) == GRAPHQL_RESPONSE_JSON
        if graphql_response:
            data.pop("data", None)
            if "SERVICE_UNAVAILABLE" not in by_code:
                request.scope[_STATUS_KEY] = status.HTTP_400_BAD_REQUEST
            if "UNAUTHENTICATED" in by_code:
                request.scope[_STATUS_KEY] = status.HTTP_401_UNAUTHORIZED
        if "RATE_LIMITED" in by_code:
            request.scope[_STATUS_KEY] = status.HTTP_429_TOO_MANY_REQUESTS
            retry_after = (by_code["RATE_LIMITED"].extensions or {}).get("retryAfter", 1)
            request.scope[_RETRY_KEY] = max(1, math.ceil(float(retry_after)))
        return data

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            client = scope.get("client")
            try:
                self.sockets.open(scope, client[0] if client else None)
            except TooManySockets as refused:
                await self._refuse_socket(WebSocket(scope, receive, send), refused)
                return
            WEBSOCKET_CONNECTIONS.inc()
            try:
                await super().__call__(scope, receive, send)
            finally:
                WEBSOCKET_CONNECTIONS.dec()
                self.sockets.close(scope)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            resolved = await self.persisted_queries.resolve(request)
        except PersistedQueryError as error:
            media_type = negotiate(request.headers.get("accept")) or "application/json"
            refused = await self._charge_refused(request)
            await (refused or persisted_error_response(error, media_type))(scope, receive, send)
            return
        request = resolved.request
        response = await self._from_cache(request)
        if response is None:
            response = await self._run_http(request)
        if resolved.register is not None and self._caller(request).is_authenticated:
            # Strangers cannot fill Redis: an anonymous caller's query runs and is not remembered.
            await self.persisted_queries.remember(resolved.register, response)
        await response(scope, receive, send)


    async def _run_http(self, request: Request) -> Response:
        """Execute through strawberry and apply the status and media-type rules above."""
        scope = request.scope
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Refused before the schema ran (unreadable body, no query, wrong method): it never reached
            # AccessControl, so it is charged here.
            refused = await self._charge_refused(request)
            return refused or request_error_response(exc, negotiate(request.headers.get("accept")))
        if response.headers.get("content-type", "").startswith("application/json"):
            response.headers["content-type"] = f"{scope.get(_MEDIA_KEY, 'application/json')}; charset=utf-8"
            if _STATUS_KEY in scope:
                response.status_code = scope[_STATUS_KEY]
            if _RETRY_KEY in scope:
                response.headers["retry-after"] = str(scope[_RETRY_KEY])
        return response

    async def _refuse_socket(self, websocket: WebSocket, refused: TooManySockets) -> None:
        """Accept, then close with the cap's code and reason (a refused handshake would only say HTTP 403)."""
        await websocket.accept(subprotocol=await self.pick_websocket_subprotocol(websocket))
        await websocket.close(code=refused.code, reason=refused.reason)

    def _caller(self, request: Request) -> Principal:
        """Who sent the request: the principal already verified for it, else its Authorization header's."""
        known = request.scope.get(_PRINCIPAL_KEY)
        if known is not None:
            return known
        try:
            principal = authenticate(self.verifier, bearer_token(request.headers.get("authorization")))
        except InvalidToken:
            principal = ANONYMOUS  # a bad token is charged to the caller's address
        request.scope[_PRINCIPAL_KEY] = principal
        return principal

    async def _charge_refused(self, request: Request) -> Response | None:
        """Charge a request answered without reaching the schema 1 point; the 429 answer when denied."""
        client_ip = request.client.host if request.client is not None else None
        decision = await self.limiters.charge(self._caller(request), client_ip, 1)
        if decision is None or decision.allowed:
            return None
        media_type = negotiate(request.headers.get("accept")) or "application/json"
        return rate_limited_response(decision, media_type)

    async def _from_cache(self, request: Request) -> Response | None:
        """A cacheable query's response from the whole-response cache (executing it on a miss)."""
        if request.method not in ("GET", "POST"):
            return None
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None or not self.response_cache.active():
            return None
        try:
            token = bearer_token(request.headers.get("authorization"))
            principal = authenticate(self.verifier, token)
        except InvalidToken:
            return None  # normal execution answers UNAUTHENTICATED with the reason
        # A miss executes the request: its context reuses this principal instead of verifying the token again.
        request.scope[_PRINCIPAL_KEY] = principal
        client_ip = request.client.host if request.client is not None else None
        return await self.response_cache.respond(
            request, principal, client_ip, lambda: self._run_http(request), media_type
        )


def rate_limited_response(decision: Decision, media_type: str) -> Response:
    """429 RATE_LIMITED with Retry-After, in the media type the client accepts."""
    error = rate_limited_error(decision)
    body: dict[str, Any] = {"errors": [error.formatted]}
    if media_type != GRAPHQL_RESPONSE_JSON:
        body = {"data": None, **body}
    return Response(
        orjson.dumps(body), status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"retry-after": str(max(1, math.ceil(decision.retry_after_s)))},
        media_type=f"{media_type}; charset=utf-8",
    )


_REQUEST_ERROR_CODES = {
    status.HTTP_404_NOT_FOUND: "NOT_FOUND",
    status.HTTP_405_METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
    status.HTTP_406_NOT_ACCEPTABLE: "NOT_ACCEPTABLE",
}


def request_error_response(exc: HTTPException, media_type: str | None) -> Response:
    """A request refused before any operation ran (unreadable body, no query, unknown operation name, wrong
    method, unacceptable Accept): its status, and a GraphQL error with a code in the body, never bare text."""
    code = _REQUEST_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
    body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
    headers = {"allow": "GET, POST"} if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED else None
    return Response(
        orjson.dumps(body), status_code=exc.status_code, headers=headers,
        media_type=f"{media_type or 'application/json'}; charset=utf-8",
    )


def make_graphql_app(settings: Settings, schema: TaskboardSchema) -> TaskboardGraphQL:
    """The /graphql endpoint for HTTP and WebSocket, serving `schema` (built for `settings`: app.schema.build)."""
    return TaskboardGraphQL(
        schema,
        settings,
        graphql_ide=None if settings.is_prod else "graphiql",
        multipart_uploads_enabled=False,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_s),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        keep_alive=True,
        keep_alive_interval=15,
    )
