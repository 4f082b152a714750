"""An overloaded process, made on purpose: its event loop comes back to a Redis call long after the deadline.

A CPU-saturated process handles its own time-outs late, though Redis may have answered in time. The tests stick
the event loop (a synchronous sleep in a callback) while a call's deadline passes, with Redis paused (CLIENT
PAUSE) so that its reply surely is not read first; app.stores.redis.bounded must then raise LateTimeout.
"""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

LATE_TIMEOUT_S = 0.3  # the time-out of the call under test
STUCK_AT_S, STUCK_FOR_S = 0.05, 0.6  # the loop is stuck from 50 to 650 ms: the 300 ms deadline passes meanwhile


def stick_event_loop_soon() -> None:
    """STUCK_AT_S from now, block the running event loop for STUCK_FOR_S."""
    asyncio.get_running_loop().call_later(STUCK_AT_S, time.sleep, STUCK_FOR_S)


async def pause_redis(url: str, ms: int) -> None:
    """CLIENT PAUSE ALL: the Redis at `url` answers no client for `ms` milliseconds (connections stay open)."""
    admin = Redis.from_url(url)
    try:
        await admin.execute_command("CLIENT", "PAUSE", str(ms), "ALL")
    finally:
        await admin.aclose()
