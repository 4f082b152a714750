"""Error shaping: domain errors keep their message and code, limit errors get theirs, a store outage becomes
SERVICE_UNAVAILABLE (app.stores.outages), anything else is masked as INTERNAL with an error id that is logged
with the stack trace."""

from __future__ import annotations

import contextlib
import logging
import uuid

from graphql import GraphQLError, GraphQLSyntaxError

from app.common.errors import AppError
from app.graphql.strawberry_adapter import ErrorsHook, InvalidOperationTypeError
from app.stores.outages import as_service_unavailable

log = logging.getLogger("taskboard.graphql")

INTERNAL_MESSAGE = "Internal server error"
_ERROR_ID = "taskboard_error_id"


def request_error_code(error: GraphQLError) -> str:
    """The code of an error raised before execution (syntax, validation, limits, variable coercion)."""
    if isinstance(error, GraphQLSyntaxError):
        # graphql-core's token limit surfaces as a syntax error with this wording.
        return "TOO_MANY_TOKENS" if "contains more than" in error.message else "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable "):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _reshaped(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    """The same error (location, path) with another message and extensions."""
    return GraphQLError(
        message, nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
        extensions=extensions,
    )


def shape_error(error: GraphQLError) -> GraphQLError:
    """The error as a client should see it, with extensions.code always set."""
    original = error.original_error
    if isinstance(original, GraphQLError):
        # graphql-core wraps syntax and variable-coercion errors; they are the client's, not ours.
        return _reshaped(error, error.message, {**(error.extensions or {}), "code": request_error_code(original)})
    if isinstance(original, InvalidOperationTypeError):
        # Only the legacy graphql-ws subprotocol gets here: it runs subscriptions and nothing else.
        return _reshaped(
            error, original.as_http_error_reason("graphql-ws") + ": send them over HTTP or graphql-transport-ws",
            {"code": "OPERATION_NOT_SUPPORTED"},
        )
    if original is not None and not isinstance(original, AppError):
        # A store outage is the client's to retry, not a bug of ours to hide.
        original = as_service_unavailable(original) or original
    if isinstance(original, AppError):
        return _reshaped(error, original.message, {"code": original.code, **original.extensions})
    if original is None:
        own_code = (error.extensions or {}).get("code")
        if own_code and own_code != "GRAPHQL_VALIDATION_FAILED":  # our limit rules set their own codes
            return error
        return _reshaped(error, error.message, {**(error.extensions or {}), "code": request_error_code(error)})
    # One id (and one log line) per failure, even when the error reaches many subscribers of a shared
    # subscription execution.
    error_id = getattr(original, _ERROR_ID, None)
    if error_id is None:
        error_id = uuid.uuid4().hex
        log.error("unexpected error %s at %s", error_id, error.path, exc_info=original)
        with contextlib.suppress(AttributeError):
            setattr(original, _ERROR_ID, error_id)
    return _reshaped(error, INTERNAL_MESSAGE, {"code": "INTERNAL", "errorId": error_id})


class ErrorShaping(ErrorsHook):
    """strawberry's MaskErrors hook point, with our per-error shaping instead of blanket masking."""

    def shape_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [shape_error(error) for error in errors]
