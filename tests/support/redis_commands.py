"""The Redis commands a piece of code sends, as redis-py's clients execute them (one node or a cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster


@contextmanager
def recorded_commands() -> Iterator[list[tuple]]:
    """Every command's arguments (name first) sent through a client's `execute_command` while inside.

    Commands queued in a pipeline are not seen one by one (a pipeline sends through its own path)."""
    commands: list[tuple] = []
    originals = {cls: cls.execute_command for cls in (Redis, RedisCluster)}

    def counting(cls: type) -> object:
        async def execute_command(self: object, *args: object, **kwargs: object) -> object:
            commands.append(args)
            return await originals[cls](self, *args, **kwargs)
        return execute_command

    with patch.object(Redis, "execute_command", counting(Redis)), \
            patch.object(RedisCluster, "execute_command", counting(RedisCluster)):
        yield commands
