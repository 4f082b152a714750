"""Helpers for the events tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from app.stores.redis import Client, is_cluster


async def next_item(stream: Any, timeout_s: float = 15.0) -> Any:
    """The next item of a subscription, failing the test instead of hanging (a bound, not a speed test)."""
    return await asyncio.wait_for(anext(stream), timeout_s)


async def numsub(redis: Client, channel: str) -> int:
    """How many connections Redis counts as subscribed to channel (a sharded channel on a cluster: its node's)."""
    if isinstance(redis, RedisCluster):
        await redis.initialize()  # the slot map (a no-op once known)
        reply = await redis.execute_command(
            "PUBSUB", "SHARDNUMSUB", channel, target_nodes=redis.get_node_from_key(channel)
        )
        return int(reply[1])
    [(_, count)] = (await redis.pubsub_numsub(channel)) or [(channel, 0)]
    return int(count)


async def publish(redis: Client, channel: str, payload: bytes) -> None:
    """PUBLISH, or SPUBLISH on a cluster (where the hub's channels are sharded)."""
    if is_cluster(redis):
        await redis.spublish(channel, payload)
    else:
        await redis.publish(channel, payload)


async def client_list(redis: Client) -> list[dict[str, Any]]:
    """CLIENT LIST of the server, or of every primary of a cluster."""
    if isinstance(redis, RedisCluster):
        await redis.initialize()
        lists = [await redis.client_list(target_nodes=node) for node in redis.get_primaries()]
        return [client for clients in lists for client in clients]
    return await redis.client_list()


async def connections_named(redis: Client, name: str) -> int:
    """How many client connections carry this name (a hub names its PubSub connection)."""
    return sum(1 for client in await client_list(redis) if client.get("name") == name)


async def eventually_async(read: Callable[[], Awaitable[Any]], expected: object, timeout_s: float = 30.0) -> bool:
    """Poll an async read until it returns expected."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await read() == expected:
            return True
        await asyncio.sleep(0.02)
    return False
