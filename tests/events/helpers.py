"""Helpers for the events tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis


async def next_item(stream: Any, timeout_s: float = 15.0) -> Any:
    """The next item of a subscription, failing the test instead of hanging (a bound, not a speed test)."""
    return await asyncio.wait_for(anext(stream), timeout_s)


async def numsub(redis: Redis, channel: str) -> int:
    """How many connections Redis counts as subscribed to channel."""
    [(_, count)] = (await redis.pubsub_numsub(channel)) or [(channel, 0)]
    return int(count)


async def connections_named(redis: Redis, name: str) -> int:
    """How many client connections carry this name (a hub names its PubSub connection)."""
    return sum(1 for client in await redis.client_list() if client.get("name") == name)


async def eventually_async(read: Callable[[], Awaitable[Any]], expected: object, timeout_s: float = 30.0) -> bool:
    """Poll an async read until it returns expected."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await read() == expected:
            return True
        await asyncio.sleep(0.02)
    return False
