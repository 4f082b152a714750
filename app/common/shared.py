"""One piece of async work whose result many tasks wait for (a subscription event's load, its execution).

asyncio.shield would protect the work from a waiter's cancellation too, but every shield adds and later
removes a callback on the shared future, and removal scans the callback list: with a thousand waiters
that is a million steps per event. Here each waiter gets its own future, and the work settles them all
in one pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SharedWork(Generic[T]):
    """Started once; `await shared.result()` from any number of tasks. Cancelling a waiter cancels only
    that waiter, never the work."""

    __slots__ = ("_task", "_waiters")

    def __init__(self, work: Awaitable[T]) -> None:
        self._waiters: list[asyncio.Future[T]] = []
        self._task: asyncio.Future[T] = asyncio.ensure_future(work)
        self._task.add_done_callback(self._settle)

    def done(self) -> bool:
        return self._task.done()

    def failed(self) -> bool:
        """Whether finished work ended with an exception (or was cancelled)."""
        return self._task.cancelled() or self._task.exception() is not None

    def outcome(self) -> T:
        """The result of finished work (raises its exception; InvalidStateError while it runs)."""
        return self._task.result()

    async def result(self) -> T:
        """The work's result (or its exception)."""
        if self._task.done():
            return self._task.result()
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return await waiter

    def _settle(self, task: asyncio.Future[Any]) -> None:
        waiters, self._waiters = self._waiters, []
        if task.cancelled():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
            return
        error = task.exception()
        for waiter in waiters:
            if waiter.done():
                continue  # that waiter was cancelled
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(task.result())
