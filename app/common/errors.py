"""Domain errors: each carries a stable code that reaches clients as GraphQL `extensions.code`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid input field: `field` is the input path (e.g. `title`, `tags.2`)."""

    field: str
    message: str


class AppError(Exception):
    """Base of every error a client may see; anything else is masked as INTERNAL."""

    code = "INTERNAL"

    def __init__(self, message: str, *, extensions: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions or {}


class NotFound(AppError):
    code = "NOT_FOUND"


class ValidationFailed(AppError):
    code = "VALIDATION_FAILED"

    def __init__(self, errors: list[FieldError] | FieldError, message: str | None = None) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        text = message or "; ".join(f"{e.field}: {e.message}" for e in self.errors) or "invalid input"
        super().__init__(text, extensions={"fields": [{"field": e.field, "message": e.message} for e in self.errors]})


class Conflict(AppError):
    code = "CONFLICT"


class Forbidden(AppError):
    code = "FORBIDDEN"


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"


class RateLimited(AppError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, extensions={"retryAfter": round(retry_after_s, 3)})
        self.retry_after_s = retry_after_s


class ServiceUnavailable(AppError):
    """A store is down or too slow to answer in time: the request may succeed when retried."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, store: str, *, reason: str) -> None:
        super().__init__(f"{store} is unavailable; retry later", extensions={"store": store, "retryable": True})
        self.store = store
        self.reason = reason


def invalid(field: str, message: str) -> ValidationFailed:
    """Shorthand for a one-field validation error."""
    return ValidationFailed(FieldError(field, message))
