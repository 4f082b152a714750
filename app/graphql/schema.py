"""The generic schema machinery: the schema class, its extensions, and `build_schema` for root types that
app.schema assembles from the domains (this package imports no domain)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from app.graphql import strawberry_adapter as strawberry_internals
from app.graphql.access import AccessControl, LimiterSlot
from app.graphql.errors import ErrorShaping
from app.graphql.limits import document_rules
from app.graphql.observability import OperationMetrics
from app.graphql.scalars import SCALAR_OVERRIDES
from app.graphql.shared_execution import SharedEventExecutor
from app.graphql.tracing import schema_extensions as tracing_extensions
from app.settings import Settings


class TaskboardSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # ErrorShaping logs unexpected errors once, with the error id the client sees; client errors are
        # not server problems and are not logged.
        return None


class OwnErrorsValidationCache(ValidationCache):
    """strawberry's ValidationCache hands every operation of a document the same cached list of errors;
    AccessControl may rewrite an operation's errors (RATE_LIMITED), so each gets its own copy."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        errors = strawberry_internals.validate_with_cache(self, context)
        context.pre_execution_errors = list(errors) if errors else errors
        yield


def build_schema(settings: Settings, *, query: type, mutation: type | None = None,
                 subscription: type | None = None) -> TaskboardSchema:
    """The schema of these root types with its extensions: error shaping, document caches, limits, access
    control, prod hardening."""
    rules = document_rules(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        merge_budget=settings.graphql_max_merge_work,
    )
    cache_size = settings.graphql_document_cache_size
    # Factories, not instances: strawberry builds fresh extensions per operation.
    extensions: list[Any] = [
        *tracing_extensions(),  # empty unless tracing is installed: no per-operation cost when off
        OperationMetrics,
        ErrorShaping,
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        rules,
    ]
    if cache_size:
        # strawberry keeps these LRU caches at module level, keyed by size: every operation shares them.
        extensions += [lambda: ParserCache(maxsize=cache_size), lambda: OwnErrorsValidationCache(maxsize=cache_size)]
    if settings.is_prod:
        extensions.append(DisableIntrospection)
    # Last: it runs once the document is parsed and valid, and sees the request's variables.
    limiters = LimiterSlot(settings)
    extensions.append(lambda: AccessControl(settings=settings, limiters=limiters))
    return TaskboardSchema(
        query=query, mutation=mutation, subscription=subscription, extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
        execution_context_class=SharedEventExecutor,
    )
