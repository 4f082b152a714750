"""Redis (redis.asyncio connection pool): connect, close, health."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import BlockingConnectionPool, Redis

from app.settings import Settings

_client: Redis | None = None


def make_client(settings: Settings) -> Redis:
    """A client on its own connection pool, with short time-outs so a slow Redis cannot stall requests."""
    # A blocking pool: under a burst (1,000 subscribers re-reading at once) callers wait briefly for a free
    # connection instead of failing with "Too many connections".
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_pool_max,
        timeout=settings.redis_timeout_s * 4,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool


def client() -> Redis:
    """The process-wide Redis client."""
    if _client is None:
        raise RuntimeError("Redis is not connected")
    return _client


async def connect(settings: Settings) -> None:
    """Open the pool and check Redis answers PING."""
    global _client
    redis = make_client(settings)
    try:
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
    """PING and return its latency in milliseconds."""
    started = time.perf_counter()
    await asyncio.wait_for(client().ping(), timeout)
    return (time.perf_counter() - started) * 1000.0
