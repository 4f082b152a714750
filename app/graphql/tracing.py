"""The GraphQL side of traces (app.tracing): one span per operation, one per DataLoader batch.

Why not strawberry's OpenTelemetryExtension: it traces through a resolver middleware, which turns every
field into an async call (one span per field of every row: 1,000 spans for a page of 50 tasks) and disables
direct execution, which runs only without middleware; it records the whole document and every resolver's
arguments (emails, search text, ids) as attributes, and names mutations "GraphQL Query". Here the span tree is
operation → DataLoader batches → store statements: the same whether a query runs from its plan or through
graphql-core, and constant in size whatever the page size. Sync resolvers without I/O get no span; async
resolvers' store calls are children of the operation span.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from graphql import OperationType
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension

from app import tracing
from app.common.errors import AppError
from app.graphql.access import COST_ATTRIBUTE
from app.graphql.document_walk import find_operation
from app.graphql.errors import shape_error
from app.graphql.strawberry_adapter import CannotGetOperationTypeError, InvalidOperationTypeError

# Operation names are chosen by clients: bounded, and only GraphQL names (a name the document does not define
# is still shown when it is a valid name).
MAX_OPERATION_NAME = 64
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_REQUEST_ERRORS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)


def schema_extensions() -> list[Any]:
    """The operation-span extension while tracing is on (first in the list), nothing otherwise."""
    installed = tracing.current()
    if installed is None:
        return []
    tracer = installed.tracer
    return [lambda: OperationTracing(tracer=tracer)]


def loader_batch_span(name: str, size: int) -> AbstractContextManager[Any]:
    """A span for one DataLoader batch inside a traced operation; nothing outside one (subscription events)."""
    installed = tracing.current()
    if installed is None or not trace.get_current_span().is_recording():
        return nullcontext()
    return installed.tracer.start_as_current_span(
        f"dataloader {name}", attributes={"taskboard.dataloader.name": name, "taskboard.dataloader.batch_size": size}
    )


def bounded_name(name: str | None) -> str | None:
    """A client-chosen operation name fit for an attribute: a GraphQL name, at most MAX_OPERATION_NAME chars."""
    if not name or not _NAME.fullmatch(name):
        return None
    return name[:MAX_OPERATION_NAME]


def untraced() -> AbstractContextManager[None]:
    """Store instrumentation off in the block and in tasks started in it: work done for subscription events
    outside any operation (an event's load started when it arrives) leaves no orphan driver spans."""
    return suppress_instrumentation()


class OperationTracing(SchemaExtension):
    """One SERVER span per operation (a child of the caller's `traceparent`), current while it runs.

    Attributes: graphql.operation.name/type, taskboard.graphql.cost, taskboard.graphql.error_codes (and the
    INTERNAL errors' ids), user.roles. Never the document, the variables, the token or anything a user wrote.
    A subscription's span covers its set-up only (parse, validate, access control, subscribe); its events
    run with store instrumentation suppressed, so a long-lived subscription leaves no span open for hours.
    Listed first: it exits last and sees the codes ErrorShaping gave the errors.
    """

    def __init__(self, *, tracer: Tracer) -> None:
        self.tracer = tracer
        self._span: trace.Span | None = None
        self._token: object | None = None
        self._suppressed: AbstractContextManager[None] | None = None

    def on_operation(self) -> Iterator[None]:
        self._span = self.tracer.start_span("GraphQL operation", kind=SpanKind.SERVER)
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        raised: Exception | None = None
        try:
            yield
        except Exception as error:
            raised = error
            raise
        finally:
            self._finish(raised)
            if self._suppressed is not None:
                self._suppressed.__exit__(None, None, None)

    def on_execute(self) -> Iterator[None]:
        yield
        document = self.execution_context.graphql_document
        operation = find_operation(document, self.execution_context.operation_name) if document else None
        if operation is not None and operation.operation is OperationType.SUBSCRIPTION:
            self._finish(None)
            self._suppressed = suppress_instrumentation()
            self._suppressed.__enter__()

    def _finish(self, raised: Exception | None) -> None:
        span, self._span = self._span, None
        if span is None:
            return
        otel_context.detach(self._token)  # type: ignore[arg-type]
        if span.is_recording():
            self._describe(span, raised)
        span.end()

    def _describe(self, span: trace.Span, raised: Exception | None) -> None:
        context = self.execution_context
        document = context.graphql_document
        operation = find_operation(document, context.operation_name) if document is not None else None
        kind = operation.operation.value if operation is not None else None
        name = bounded_name(operation.name.value if operation and operation.name else context.operation_name)
        span.update_name(" ".join(part for part in (kind, name) if part) or "GraphQL operation")
        attributes: dict[str, Any] = {}
        if kind is not None:
            attributes["graphql.operation.type"] = kind
        if name is not None:
            attributes["graphql.operation.name"] = name
        cost = getattr(context, COST_ATTRIBUTE, None)
        if cost is not None:
            attributes["taskboard.graphql.cost"] = cost
        principal = getattr(context.context, "principal", None)
        if principal is not None:
            attributes["user.roles"] = (principal.role.value if principal.role is not None else "anonymous",)
        # ErrorShaping (inside this extension) has shaped them already: shaping again is idempotent.
        errors = [shape_error(error).extensions or {} for error in getattr(context.result, "errors", None) or ()]
        codes = {str(error.get("code", "INTERNAL")) for error in errors}
        if raised is not None:
            codes.add(raised_code(raised))
        if codes:
            attributes["taskboard.graphql.error_codes"] = sorted(codes)
        if "INTERNAL" in codes:
            attributes["taskboard.graphql.error_ids"] = [str(e["errorId"]) for e in errors if "errorId" in e]
            span.set_status(Status(StatusCode.ERROR, "INTERNAL"))
        span.set_attributes(attributes)


def raised_code(error: Exception) -> str:
    """The code of an error that left the operation as an exception (the view answers it later)."""
    if isinstance(error, AppError):  # access control: UNAUTHENTICATED, RATE_LIMITED, QUERY_TOO_COMPLEX, ...
        return error.code
    if isinstance(error, _REQUEST_ERRORS):  # answered 400 (405) in plain text by the view
        return "BAD_REQUEST"
    return "INTERNAL"  # logged with its error id when the view shapes it
