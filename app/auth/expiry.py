"""Streams that end when the subscriber's token expires (WebSocket subscriptions outlive single requests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from app.auth.principal import Principal
from app.auth.tokens import InvalidToken

T = TypeVar("T")
END = object()


def token_deadline(principal: Principal, *, leeway_s: float) -> float | None:
    """The event-loop time at which the principal's token (plus leeway) expires; None when it never does."""
    if principal.expires_at is None:
        return None
    remaining = principal.expires_at + timedelta(seconds=leeway_s) - datetime.now(UTC)
    return asyncio.get_running_loop().time() + remaining.total_seconds()


async def next_before(items: AsyncIterator[T], deadline: float | None) -> T | object:
    """The next item, END when the stream ends; InvalidToken (expired) once the deadline passes.

    Only the wait for the next item is timed (never code between items), so cancelling at the deadline
    cannot hit the consumer.
    """
    if deadline is not None and asyncio.get_running_loop().time() >= deadline:
        raise InvalidToken("token expired", reason="expired")
    try:
        async with asyncio.timeout_at(deadline) as timeout:
            return await anext(items)
    except StopAsyncIteration:
        return END
    except TimeoutError:
        if timeout.expired():
            raise InvalidToken("token expired", reason="expired") from None
        raise
