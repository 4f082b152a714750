"""When a subscriber's token expires, as event-loop time (WebSocket subscriptions outlive single requests)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.auth.principal import Principal


def token_deadline(principal: Principal, *, leeway_s: float) -> float | None:
    """The event-loop time at which the principal's token (plus leeway) expires; None when it never does."""
    if principal.expires_at is None:
        return None
    remaining = principal.expires_at + timedelta(seconds=leeway_s) - datetime.now(UTC)
    return asyncio.get_running_loop().time() + remaining.total_seconds()
