"""The AccessControl schema extension: before an operation executes, check who is calling, what the
operation costs, and whether the caller's rate-limit budget covers it.

1. A token that was sent but cannot be trusted, or has expired since the WebSocket connected, answers
   UNAUTHENTICATED. Without a token only `apiVersion` (and introspection, off in prod) may run while
   AUTH_REQUIRED is on.
2. Text no store can hold (NUL, unpaired surrogates) in variables or literals answers VALIDATION_FAILED.
3. The static cost (app.graphql.cost, at least 1) above QUERY_MAX_COST answers QUERY_TOO_COMPLEX.
4. The cost is charged to the caller's budget in Redis (per user, per client address when anonymous);
   an empty budget answers RATE_LIMITED with `retryAfter` seconds.
5. An operation refused before step 4 (unparsable, invalid, over a limit, unauthenticated, too costly)
   is still charged 1 point, once, when its result is built; when that charge is denied the answer is
   RATE_LIMITED instead. So every operation costs its caller something, and a flood of cheap or invalid
   ones runs out of budget like any other. (Requests that never reach the schema are charged by
   app.graphql.view and app.graphql.ws_protocols through `LimiterSlot.charge`.)

Every response reports `extensions.cost` (and `extensions.rateLimit` when the limiter ran). The
permission matrix itself is enforced by the services and resolvers (app.auth.permissions).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

from app.abuse.keys import rate_limit_key
from app.abuse.ratelimit import Decision, RateLimiter
from app.auth import permissions as can
from app.auth.principal import Principal
from app.auth.tokens import InvalidToken
from app.common.errors import RateLimited, Unauthenticated
from app.graphql import strawberry_adapter as strawberry_internals
from app.graphql.cost import CostModel, check_cost, operation_cost
from app.graphql.document_walk import PerDocument, root_fields
from app.graphql.errors import shape_error
from app.graphql.input_guard import check_storable_text
from app.graphql.surcharges import surcharge
from app.settings import Settings
from app.stores import redis

PUBLIC_ROOT_FIELDS = frozenset({"apiVersion", "__typename", "__schema", "__type"})
# The operation's cost is also left on strawberry's ExecutionContext under this name (traces report it).
COST_ATTRIBUTE = "taskboard_cost"
# What a request costs when it is refused before its own cost is known or charged.
MIN_COST = 1


class LimiterSlot:
    """The rate limiter of one schema, rebuilt when the process's Redis client changes (tests reopen stores)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._limiter: RateLimiter | None = None

    def get(self) -> RateLimiter:
        client = redis.client()
        if self._limiter is None or self._limiter.redis is not client:
            self._limiter = RateLimiter.from_settings(self.settings, client)
        return self._limiter

    async def charge(self, principal: Principal, client_ip: str | None, cost: int) -> Decision | None:
        """Charge the caller's budget (per user; per address when anonymous); None when rate limits are off."""
        if not self.settings.rate_limit_enabled:
            return None
        return await self.get().charge(rate_limit_key(principal, client_ip), cost)


def rate_limited_error(decision: Decision) -> GraphQLError:
    """The RATE_LIMITED error a denied decision answers with, shaped as clients see it."""
    try:
        decision.raise_if_denied()
    except RateLimited as error:
        return shape_error(GraphQLError(error.message, original_error=error))
    raise ValueError("the decision allowed the request")


def _root_field_names(document: DocumentNode, operation_name: str | None) -> frozenset[str]:
    return frozenset(node.name.value for node in root_fields(document, operation_name))


# The names of the root fields the operation selects, through fragments (kept per document).
root_field_names: PerDocument[str | None, frozenset[str]] = PerDocument(_root_field_names)


class AccessControl(SchemaExtension):
    def __init__(self, *, settings: Settings, limiters: LimiterSlot) -> None:
        self.settings = settings
        self.limiters = limiters
        self.model = CostModel(default_list_size=settings.query_default_list_size)
        self.cost: int | None = None
        self.decision: Decision | None = None
        self.charged = False
        # Refused before it was charged, and its charge of MIN_COST was denied too: the error it answers.
        self._denied: GraphQLError | None = None

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        document = self.execution_context.graphql_document
        if document is not None and hasattr(context, "principal"):
            self._authenticate(context, document)
            check_storable_text(document, self.execution_context.variables)
            cost = operation_cost(
                strawberry_internals.core_schema(self.execution_context.schema),
                document,
                operation_name=self.execution_context.operation_name,
                variables=self.execution_context.variables,
                model=self.model,
            )
            self.cost = max(cost, MIN_COST)  # `{ __typename }` selects nothing that costs, yet it is a request
            setattr(self.execution_context, COST_ATTRIBUTE, self.cost)
            check_cost(self.cost, self.settings.query_max_cost)
            # Surcharges price an answer, not work: charged and reported with the cost, not held to the maximum.
            self.cost += surcharge(document=document, operation_name=self.execution_context.operation_name,
                                   variables=self.execution_context.variables, principal=context.principal,
                                   settings=self.settings)
            setattr(self.execution_context, COST_ATTRIBUTE, self.cost)
            await self._charge(context, self.cost)
            if self.decision is not None:
                self.decision.raise_if_denied()
        yield

    async def _charge(self, context: Any, cost: int) -> None:
        self.charged = True
        self.decision = await self.limiters.charge(context.principal, context.client_ip, cost)

    async def _charge_refused(self) -> None:
        """An operation that ends before on_execute charged it pays MIN_COST, once; when that is denied
        it answers RATE_LIMITED instead of its own errors."""
        context = self.execution_context.context
        if not self.charged and hasattr(context, "principal"):
            await self._charge(context, MIN_COST)
            if self.decision is not None and not self.decision.allowed:
                self._denied = rate_limited_error(self.decision)
        if self._denied is None:
            return
        # Such a result is a pre-execution error, and get_results sees its own error list as
        # `pre_execution_errors` (set just before, on every path: parse, validation, an exception from
        # on_execute; HTTP and streams). Rewriting that list is the one way to change the answer from
        # here: on_operation does not run after a hook raised, and execution_context.result is set later.
        # A stream builds its first result twice; the first time the list may not be the result's yet.
        # (schema.OwnErrorsValidationCache keeps cached validation errors out of reach.)
        errors = self.execution_context.pre_execution_errors
        if errors:
            errors[:] = [self._denied]

    def _authenticate(self, context: Any, document: DocumentNode) -> None:
        if context.auth_error is not None:
            raise context.auth_error
        principal = context.principal
        # A WebSocket signs in once; its token may expire while the connection stays open.
        leeway = timedelta(seconds=self.settings.jwt_leeway_s)
        if principal.expires_at is not None and principal.expires_at + leeway <= datetime.now(UTC):
            raise InvalidToken("token expired", reason="expired")
        if can.can_read(principal, auth_required=self.settings.auth_required):
            return
        if root_field_names(document, self.execution_context.operation_name) <= PUBLIC_ROOT_FIELDS:
            return
        raise Unauthenticated("sign in: send Authorization: Bearer <token>")

    async def get_results(self) -> dict[str, Any]:  # type: ignore[override]
        # Every result, refused or not, passes here before it leaves the schema.
        await self._charge_refused()
        results: dict[str, Any] = {}
        if self.cost is not None:
            results["cost"] = self.cost
        if self.decision is not None and not self.decision.degraded:
            results["rateLimit"] = {"limit": self.decision.limit, "remaining": self.decision.remaining}
        return results
