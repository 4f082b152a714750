"""Redis (redis.asyncio): connect, close, health; one node, or a Redis Cluster with REDIS_CLUSTER=true.

Callers use the client's commands as on one node. The few things that differ on a cluster live here:
whether a client is a cluster's (`is_cluster`), a multi-key read over keys of different slots (`mget`), the
database number (`db_of`: always 0 on a cluster), and `shard_of`, which spreads a key family over hash-tagged
groups (the cache's rows, the rate limiter's buckets) so that a cluster spreads them over its nodes. (Which node
serves the events slot, the events hub asks the cluster itself: app/events/hub.py.)

`bounded` is the one time-out for request-path Redis calls (the cache, the rate limiter, the events publisher): it
tells a time-out Redis caused from one this process's late event loop caused (`LateTimeout`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import hiredis
from redis.asyncio import BlockingConnectionPool, Connection, Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.settings import Settings

Client = Redis | RedisCluster
T = TypeVar("T")

# A time-out handled this long after its deadline was the event loop's, not Redis's: a timer on a loop that keeps
# up fires within milliseconds. Without this, an overloaded instance would take itself for a Redis outage: the
# cache would go degraded (sending every read to the databases, more load still) and on recovery replace the
# global epoch, emptying the cache of every instance.
LATE_LOOP_S = 0.1

_client: Client | None = None


class HiredisPackedConnection(Connection):
    """redis-py's asyncio connection packs commands in Python (~1 us per argument: the 130-key MGET of a page's
    rows costs ~0.15 ms); hiredis, which already parses the replies, packs them in C, byte for byte the same."""

    def pack_command(self, *args: object) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # e.g. "CLIENT SETINFO": the words go separately
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


class QuickCheckoutPool(BlockingConnectionPool):
    """redis-py's blocking pool, with the usual checkout made cheap: when a connection is free and nobody waits
    for one, take it (and give it back) directly. The base class always goes through its condition, a pool
    time-out and five observability hooks per command (~15 us of this process's CPU per round trip, a fifth of
    a cache read's); with no OpenTelemetry metrics configured for redis-py (the app configures none) those hooks
    record nothing. Everything else, and every checkout that has to wait or create a connection, is the base
    class's, so a burst still waits for a free connection instead of failing."""

    def _uncontended(self) -> bool:
        condition = self._condition
        return not condition.locked() and not condition._waiters and not getattr(self, "_in_maintenance", False)

    async def get_connection(self, command_name: object = None, *keys: object, **options: object) -> Connection:
        if not (self._available_connections and self._uncontended()):
            return await super().get_connection()
        connection = self._available_connections.pop()
        self._in_use_connections.add(connection)
        try:
            await self.ensure_connection(connection)  # connected, nothing unread: as the base class checks
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: Connection) -> None:  # type: ignore[override]
        if not self._uncontended() or connection.should_reconnect():
            await super().release(connection)
            return
        self._in_use_connections.remove(connection)
        self._available_connections.append(connection)


def make_client(settings: Settings) -> Client:
    """A client on its own connection pool(s), with short time-outs so a slow Redis cannot stall requests."""
    if settings.redis_cluster:
        # One pool per node, each up to REDIS_POOL_MAX connections. Unlike the single-node pool it does not
        # wait for a free connection when all are busy (redis-py's cluster client has no blocking pool).
        return RedisCluster.from_url(
            settings.redis_url,
            max_connections=settings.redis_pool_max,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
            health_check_interval=30,
        )
    # A blocking pool: under a burst (1,000 subscribers re-reading at once) callers wait briefly for a free
    # connection instead of failing with "Too many connections".
    pool = QuickCheckoutPool.from_url(
        settings.redis_url,
        connection_class=HiredisPackedConnection,  # rediss:// and unix:// URLs choose their own class instead
        max_connections=settings.redis_pool_max,
        timeout=settings.redis_timeout_s * 4,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool


def is_cluster(redis: Client) -> bool:
    return isinstance(redis, RedisCluster)


def db_of(redis: Client) -> int:
    """The database number a client talks to (0 on a cluster)."""
    if is_cluster(redis):
        return 0
    return int(redis.connection_pool.connection_kwargs.get("db", 0))


def shard_of(text: str, shards: int) -> int:
    """Which of `shards` groups `text` falls in: the same in every process (unlike the salted `hash()`), so every
    instance puts a name in the same group. Changing it moves every key of the families built on it."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=2).digest(), "big") % shards


async def mget(redis: Client, names: Sequence[str]) -> list[bytes | None]:
    """MGET in one round trip: one command on one node; on a cluster one MGET per hash slot, sent to every
    node concurrently (a pipeline per node), so the round trip costs the slowest node's, not their sum.
    Not atomic across slots: callers (the cache) do not need it to be (app/cache/core.py says why)."""
    if isinstance(redis, RedisCluster):
        return await redis.mget_nonatomic(list(names))
    return await redis.mget(list(names))


class LateTimeout(TimeoutError):
    """A bounded call timed out, but this process's event loop handled the time-out more than LATE_LOOP_S after
    its deadline (CPU overload, a long pause): Redis may well have answered in time. Still a TimeoutError, so a
    caller that does not tell the two apart treats it as any other time-out."""


async def bounded(operation: Awaitable[T], timeout_s: float) -> T:
    """Await a Redis operation for at most timeout_s. A time-out (asyncio's, or redis-py's socket time-out) that
    the event loop handled more than LATE_LOOP_S after the deadline raises LateTimeout; other failures pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for runs the operation in a task of its own
        # (~20 us per Redis call on the request path).
        async with asyncio.timeout(timeout_s):
            return await operation
    except (TimeoutError, RedisTimeoutError) as exc:
        late_s = loop.time() - deadline
        if late_s > LATE_LOOP_S:
            raise LateTimeout(f"the event loop handled the time-out {late_s:.2f} s after its deadline") from exc
        raise


def client() -> Client:
    """The process-wide Redis client."""
    if _client is None:
        raise RuntimeError("Redis is not connected")
    return _client


async def connect(settings: Settings) -> None:
    """Open the pool and check Redis answers PING (a cluster client first learns the slot map)."""
    global _client
    redis = make_client(settings)
    try:
        if isinstance(redis, RedisCluster):
            await redis.initialize()
        await redis.ping()
    except BaseException:
        await redis.aclose()
        raise
    _client = redis


async def close() -> None:
    """Close the pool."""
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None


async def ping(timeout: float) -> float:
    """PING (every primary of a cluster) and return its latency in milliseconds."""
    started = time.perf_counter()
    redis = client()
    if isinstance(redis, RedisCluster):
        await asyncio.wait_for(redis.ping(target_nodes=RedisCluster.PRIMARIES), timeout)
    else:
        await asyncio.wait_for(redis.ping(), timeout)
    return (time.perf_counter() - started) * 1000.0
