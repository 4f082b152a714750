"""The single-node Redis client packs commands with hiredis, byte for byte as redis-py would, and checks
connections out of its pool without waiting when one is free, waiting (never failing) when none is."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from app.settings import Settings
from app.stores.redis import HiredisPackedConnection, QuickCheckoutPool, make_client


@pytest.mark.parametrize("args", [
    ("SET", "tb:v4:{task:3}:k", b"\x00value\r\n", 3, 60000.0, "0.0006", -1),
    ("CLIENT SETINFO", "LIB-NAME", "redis-py"),
    ("MGET", *(f"tb:v4:{{task:{n % 16}}}:gen:id:{n}" for n in range(130))),
    ("EVALSHA", "91c2a043", 1, "ключ", "ünïcode"),
])
def test_commands_are_packed_as_redis_py_packs_them(args: tuple) -> None:
    ours = b"".join(HiredisPackedConnection().pack_command(*args))
    assert ours == b"".join(Connection().pack_command(*args))


async def test_a_single_node_client_sends_through_it(settings: Settings) -> None:
    client = make_client(settings.model_copy(update={"redis_cluster": False, "redis_url": "redis://127.0.0.1:1/0"}))
    try:
        assert client.connection_pool.connection_class is HiredisPackedConnection
    finally:
        await client.aclose()


def single_node(settings: Settings, **update: object) -> Settings:
    return settings.model_copy(update={"redis_cluster": False, **update})


async def test_a_burst_larger_than_the_pool_waits_for_connections_and_every_command_answers(
    settings: Settings,
) -> None:
    client = make_client(single_node(settings, redis_pool_max=3))
    pool = client.connection_pool
    try:
        assert isinstance(pool, QuickCheckoutPool)
        await client.set("tb:test:pool", b"v")
        answers = await asyncio.gather(*(client.get("tb:test:pool") for _ in range(200)))
        assert answers == [b"v"] * 200
        # at most 3 connections were ever made, all back in the pool, none in use
        assert len(pool._available_connections) <= 3 and not pool._in_use_connections
        assert await client.get("tb:test:pool") == b"v"  # the quick checkout again, once nobody waits
    finally:
        await client.delete("tb:test:pool")
        await client.aclose()


async def test_a_free_connection_that_the_server_closed_is_reconnected(settings: Settings) -> None:
    client = make_client(single_node(settings))
    try:
        await client.client_setname("tb-pool-test")
        [connection] = client.connection_pool._available_connections
        killer = make_client(single_node(settings))
        try:
            assert await killer.client_kill_filter(_id=await client.client_id()) == 1
        finally:
            await killer.aclose()
        await asyncio.sleep(0.05)  # the close reaches the idle connection's reader
        with pytest.raises(RedisConnectionError):  # as redis-py's own pool answers: the command was lost
            await client.ping()
        assert await client.ping() is True  # then reconnected, not left broken in the pool
        assert client.connection_pool._available_connections == [connection]  # the same object, reconnected
        assert not client.connection_pool._in_use_connections
    finally:
        await client.aclose()
