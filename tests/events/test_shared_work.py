"""SharedWork: one piece of work, any number of waiters; a waiter's cancellation never reaches the work."""

from __future__ import annotations

import asyncio

import pytest

from app.common.shared import SharedWork


async def test_every_waiter_gets_the_one_result_and_the_work_runs_once() -> None:
    runs: list[int] = []
    release = asyncio.Event()

    async def work() -> str:
        runs.append(1)
        await release.wait()
        return "done"

    shared = SharedWork(work())
    waiters = [asyncio.create_task(shared.result()) for _ in range(1000)]
    await asyncio.sleep(0)
    assert not shared.done()
    release.set()

    assert await asyncio.gather(*waiters) == ["done"] * 1000
    assert runs == [1] and shared.done() and shared.outcome() == "done"
    assert await shared.result() == "done"  # late waiters get it at once


async def test_cancelling_a_waiter_does_not_cancel_the_work_or_the_others() -> None:
    release = asyncio.Event()

    async def work() -> int:
        await release.wait()
        return 7

    shared = SharedWork(work())
    leaving, staying = asyncio.create_task(shared.result()), asyncio.create_task(shared.result())
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    release.set()

    assert await staying == 7
    assert leaving.cancelled()


async def test_a_failure_reaches_every_waiter() -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        raise LookupError("gone")

    shared = SharedWork(work())
    results = await asyncio.gather(shared.result(), shared.result(), return_exceptions=True)

    assert [type(r) for r in results] == [LookupError, LookupError]
    with pytest.raises(LookupError):
        shared.outcome()


async def test_failed_tells_finished_work_that_raised_from_work_that_returned() -> None:
    async def fine() -> int:
        return 1

    async def broken() -> int:
        raise ValueError("no")

    ok, bad = SharedWork(fine()), SharedWork(broken())
    await asyncio.sleep(0)
    assert ok.done() and not ok.failed()
    assert bad.done() and bad.failed()
    with pytest.raises(ValueError):
        bad.outcome()
