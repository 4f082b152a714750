"""In-process single flight: concurrent misses on one entry share one load.

Flights are keyed by the entry key *and* the stamp values the caller observed. A caller that arrives
after a write has bumped a stamp observes new values and starts its own flight, so joining a flight
can never hand out data older than the caller's own read of the stamps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any


class Flights:
    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.joined = 0

    def joinable(self, key: Hashable) -> asyncio.Future[Any] | None:
        """The flight already loading `key`, counted as joined; None when there is none."""
        future = self._running.get(key)
        if future is not None:
            self.joined += 1
        return future

    def start(self, keys: Sequence[Hashable], fill: Callable[[], Awaitable[Sequence[Any]]]) -> list[asyncio.Future[Any]]:
        """Run fill() once in its own task; its i-th result settles the flight of keys[i]."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in keys]
        for key, future in zip(keys, futures, strict=True):
            self._running[key] = future
            future.add_done_callback(_retrieve)

        async def run() -> None:
            try:
                values = list(await fill())
                if len(values) != len(futures):
                    raise ValueError(f"loader returned {len(values)} values for {len(futures)} keys")
            except Exception as exc:  # noqa: BLE001 - every waiter gets the loader's own error
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            else:
                for future, value in zip(futures, values, strict=True):
                    if not future.done():
                        future.set_result(value)
            finally:
                for key, future in zip(keys, futures, strict=True):
                    if self._running.get(key) is future:
                        del self._running[key]

        # A task of its own: a waiter that goes away (client disconnect) must not cancel the others' load.
        task = loop.create_task(run(), name="cache-fill")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return futures

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def wait(future: asyncio.Future[Any]) -> Any:
    """Await a flight without cancelling it when this waiter is cancelled."""
    return await asyncio.shield(future)


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Nobody may be left to await a failed flight: read its exception so asyncio does not log it.
    if not future.cancelled():
        future.exception()
