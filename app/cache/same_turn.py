"""Cache reads started in the same event-loop turn share one MGET.

A page's rows and their tags are two DataLoader batches that dispatch in the same turn, and under load many
requests' reads do too: each read's MGET is a round trip of its own (~60-80 us of this process's CPU in
redis-py and the kernel, and its latency). The first read of a turn waits one turn for the others, then
sends every name they asked for in one MGET (one per slot on a cluster: app.stores.redis.mget) and hands
each its own part. A read alone in its turn costs that one turn (a few microseconds), nothing more.

A failure (Redis down, a time-out: the cache's `Unavailable`) reaches every read of the batch, each of which
then falls back on its own, as it would have after its own MGET.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from app.cache.link import Unavailable

Values = list[bytes | None]


class SameTurnReads:
    """MGETs of one turn, sent as one by `send` (names in, values out, in order)."""

    def __init__(self, send: Callable[[list[str]], Awaitable[Values]]) -> None:
        self._send = send
        self._joining: list[tuple[Sequence[str], asyncio.Future[Values]]] | None = None
        self.batches = 0  # MGETs sent
        self.reads = 0  # reads they answered

    async def mget(self, names: Sequence[str]) -> Values:
        """The values of `names`, from the MGET of this turn's reads."""
        if self._joining is not None:
            future: asyncio.Future[Values] = asyncio.get_running_loop().create_future()
            self._joining.append((names, future))
            return await future
        joining = self._joining = []
        try:
            await asyncio.sleep(0)  # the other reads of this turn join
        finally:
            self._joining = None
        if not joining:
            self.batches += 1
            self.reads += 1
            return await self._send(list(names))
        return await self._send_together(names, joining)

    async def _send_together(
        self, names: Sequence[str], joining: list[tuple[Sequence[str], asyncio.Future[Values]]]
    ) -> Values:
        together = list(names)
        for more, _ in joining:
            together.extend(more)
        self.batches += 1
        self.reads += 1 + len(joining)
        try:
            values = await self._send(together)
        except BaseException as exc:
            # Unavailable as it is; anything else (this read cancelled) is Unavailable for the others, who
            # then fall back to the databases as after a failed read of their own.
            failure = exc if isinstance(exc, Unavailable) else Unavailable("read")
            for _, future in joining:
                if not future.done():
                    future.set_exception(failure)
            raise
        start = len(names)
        for more, future in joining:
            if not future.done():  # a reader that went away (cancelled) has nothing to receive
                future.set_result(values[start : start + len(more)])
            start += len(more)
        return values[: len(names)]
