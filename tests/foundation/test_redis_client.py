"""The single-node Redis client packs commands with hiredis, byte for byte as redis-py would."""

from __future__ import annotations

import pytest
from redis.asyncio import Connection

from app.settings import Settings
from app.stores.redis import HiredisPackedConnection, make_client


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
