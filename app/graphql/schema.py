"""Assembles Query, Mutation and Subscription from the domain packages into one strawberry schema."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.types import ExecutionContext

import app
from app.audit.resolvers import AuditQuery
from app.graphql.access import AccessControl, LimiterSlot
from app.graphql.errors import ErrorShaping
from app.graphql.limits import limit_rules
from app.graphql.observability import OperationMetrics
from app.graphql.scalars import SCALAR_OVERRIDES
from app.graphql.shared_execution import SharedEventExecutor
from app.graphql.tracing import schema_extensions as tracing_extensions
from app.settings import Settings, get_settings
from app.tags.resolvers import TagMutation, TagQuery
from app.tasks.resolvers import TaskMutation, TaskQuery
from app.tasks.subscriptions import TaskSubscription
from app.users.resolvers import UserMutation, UserQuery


@strawberry.type(description="Read operations.")
class Query(TaskQuery, TagQuery, UserQuery, AuditQuery):
    @strawberry.field(description="Version of the running Taskboard API.")
    def api_version(self) -> str:
        return app.__version__


@strawberry.type(description="Write operations; each validates its whole input before writing anything.")
class Mutation(TaskMutation, TagMutation, UserMutation):
    pass


@strawberry.type(description="Live events over WebSocket (graphql-transport-ws or graphql-ws).")
class Subscription(TaskSubscription):
    pass


class TaskboardSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # ErrorShaping logs unexpected errors once, with the error id the client sees; client errors are
        # not server problems and are not logged.
        return None


def build_schema(settings: Settings) -> TaskboardSchema:
    """The schema with its extensions: error shaping, document caches, limits, access control, prod hardening."""
    rules = limit_rules(max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases)
    cache_size = settings.graphql_document_cache_size
    # Factories, not instances: strawberry builds fresh extensions per operation.
    extensions: list[Any] = [
        *tracing_extensions(),  # empty unless tracing is installed: no per-operation cost when off
        OperationMetrics,
        ErrorShaping,
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        lambda: AddValidationRules(rules),
    ]
    if cache_size:
        # strawberry keeps these LRU caches at module level, keyed by size: every operation shares them.
        extensions += [lambda: ParserCache(maxsize=cache_size), lambda: ValidationCache(maxsize=cache_size)]
    if settings.is_prod:
        extensions.append(DisableIntrospection)
    # Last: it runs once the document is parsed and valid, and sees the request's variables.
    limiters = LimiterSlot(settings)
    extensions.append(lambda: AccessControl(settings=settings, limiters=limiters))
    return TaskboardSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
        execution_context_class=SharedEventExecutor,
    )


schema = build_schema(get_settings())
