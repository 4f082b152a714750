"""The current request's id (X-Request-Id): logs and audit rows name it. No web framework imports here."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_request_id: ContextVar[str | None] = ContextVar("taskboard_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served, None outside one (CLI, background tasks)."""
    return _request_id.get()


def accept_or_new(value: str | None) -> str:
    """A client-supplied id when it is short and plain, a fresh one otherwise (ids end up in logs)."""
    if value is not None and _ACCEPTED.match(value):
        return value
    return uuid.uuid4().hex


def bind(request_id: str) -> object:
    """Make request_id current; returns a token for `unbind`."""
    return _request_id.set(request_id)


def unbind(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]
