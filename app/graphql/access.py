"""The AccessControl schema extension: before an operation executes, check who is calling, what the
operation costs, and whether the caller's rate-limit budget covers it.

1. A token that was sent but cannot be trusted, or has expired since the WebSocket connected, answers
   UNAUTHENTICATED. Without a token only `apiVersion` (and introspection, off in prod) may run while
   AUTH_REQUIRED is on.
2. Text no store can hold (NUL, unpaired surrogates) in variables or literals answers VALIDATION_FAILED.
3. The static cost (app.abuse.cost) above QUERY_MAX_COST answers QUERY_TOO_COMPLEX.
4. The cost is charged to the caller's budget in Redis (per user, per client address when anonymous);
   an empty budget answers RATE_LIMITED with `retryAfter` seconds.

Every response reports `extensions.cost` (and `extensions.rateLimit` when the limiter ran). The
permission matrix itself is enforced by the services and resolvers (app.auth.permissions).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from app.abuse.cost import CostModel, check_cost, find_operation, operation_cost
from app.abuse.inputs import check_storable_text
from app.abuse.keys import rate_limit_key
from app.abuse.ratelimit import Decision, RateLimiter
from app.auth import permissions as can
from app.auth.tokens import InvalidToken
from app.common.errors import Unauthenticated
from app.graphql.surcharges import surcharge
from app.settings import Settings
from app.stores import redis

PUBLIC_ROOT_FIELDS = frozenset({"apiVersion", "__typename", "__schema", "__type"})
# The operation's cost is also left on strawberry's ExecutionContext under this name (traces report it).
COST_ATTRIBUTE = "taskboard_cost"


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


def root_field_names(document: DocumentNode, operation_name: str | None) -> set[str]:
    """The root fields the operation selects, through fragments (cycles end: each fragment once)."""
    operation = find_operation(document, operation_name)
    if operation is None:
        return set()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: set[str] = set()
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set)

    walk(operation.selection_set)
    return names


class AccessControl(SchemaExtension):
    def __init__(self, *, settings: Settings, limiters: LimiterSlot) -> None:
        self.settings = settings
        self.limiters = limiters
        self.model = CostModel(default_list_size=settings.query_default_list_size)
        self.cost: int | None = None
        self.decision: Decision | None = None

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        document = self.execution_context.graphql_document
        if document is not None and hasattr(context, "principal"):
            self._authenticate(context, document)
            check_storable_text(document, self.execution_context.variables)
            self.cost = operation_cost(
                self.execution_context.schema._schema,
                document,
                operation_name=self.execution_context.operation_name,
                variables=self.execution_context.variables,
                model=self.model,
            )
            setattr(self.execution_context, COST_ATTRIBUTE, self.cost)
            check_cost(self.cost, self.settings.query_max_cost)
            # Surcharges price an answer, not work: charged and reported with the cost, not held to the maximum.
            self.cost += surcharge(document=document, operation_name=self.execution_context.operation_name,
                                   variables=self.execution_context.variables, principal=context.principal,
                                   settings=self.settings)
            if self.settings.rate_limit_enabled:
                key = rate_limit_key(context.principal, context.client_ip)
                self.decision = await self.limiters.get().charge(key, self.cost)
                self.decision.raise_if_denied()
        yield

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

    def get_results(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        if self.cost is not None:
            results["cost"] = self.cost
        if self.decision is not None and not self.decision.degraded:
            results["rateLimit"] = {"limit": self.decision.limit, "remaining": self.decision.remaining}
        return results
