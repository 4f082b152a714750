"""Test helpers shared by the cache and events tests: counting loaders, listener registration, pausable Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from app.common import changes
from app.common.changes import Change, ChangeKind, Entity
from app.common.ids import uuid7
from app.settings import Settings
from app.stores.redis import make_client
from tests.support.processes import throwaway_redis, wait_until


def new_id() -> str:
    return str(uuid7())


class CountingLoader:
    """A loader that returns `value` (or value(call number)) and counts its calls; `gate` holds loads open."""

    def __init__(self, value: Any = "loaded", *, gate: asyncio.Event | None = None, delay_s: float = 0.0) -> None:
        self.value = value
        self.gate = gate
        self.delay_s = delay_s
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self.value(self.calls) if callable(self.value) else self.value


class CountingBatchLoader:
    """A batch loader: value_of(item) per item; records every batch it was asked for."""

    def __init__(self, value_of: Callable[[Any], Any] = lambda item: f"value-{item}", delay_s: float = 0.0) -> None:
        self.value_of = value_of
        self.delay_s = delay_s
        self.batches: list[list[Any]] = []

    async def __call__(self, items: list[Any]) -> list[Any]:
        self.batches.append(list(items))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return [self.value_of(item) for item in items]


@asynccontextmanager
async def listening(*listeners: Callable[[list[Change]], Awaitable[None]]) -> AsyncIterator[None]:
    """Register change listeners for the block only (each stands for one process's listener)."""
    for listener in listeners:
        changes.add_listener(listener)
    try:
        yield
    finally:
        for listener in listeners:
            changes.remove_listener(listener)


def task_changed(*ids: str, kind: ChangeKind = ChangeKind.UPDATED, fields: tuple[str, ...] = ("title",)) -> Change:
    return Change(Entity.TASK, kind, tuple(ids), fields)


@contextmanager
def paused(process: subprocess.Popen) -> Iterator[None]:
    """SIGSTOP a throwaway redis-server (it keeps its data but answers nothing) until the block ends."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


async def eventually(predicate: Callable[[], bool], timeout_s: float = 30.0, interval_s: float = 0.02) -> bool:
    """Poll predicate on the event loop until it holds or timeout_s passes (a bound against hanging, long
    enough for a busy machine: it returns as soon as the predicate holds)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval_s)
    return predicate()


class SamePortRedis:
    """Restarts a killed throwaway redis-server on the same port and directory (a SAVEd snapshot comes back)."""

    def __init__(self, url: str, workdir: str) -> None:
        self.port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self.workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        if not wait_until(lambda: socket.create_connection(("127.0.0.1", self.port), 0.2).close() is None, 10):
            raise RuntimeError("redis-server did not restart")
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()




@dataclass
class PrivateRedis:
    """A throwaway redis-server for one test: pause it, kill it, bring it back on the same port."""

    url: str
    process: subprocess.Popen
    restarts: SamePortRedis

    def snapshot(self) -> None:
        """SAVE the data set, so that a restart comes back with it (as a restore from backup would)."""
        with SyncRedis.from_url(self.url) as admin:
            admin.save()

    def exists(self, key: str) -> bool:
        with SyncRedis.from_url(self.url) as admin:
            return bool(admin.exists(key))

    def kill(self) -> None:
        for process in (self.process, *self.restarts.processes):
            if process.poll() is None:
                process.kill()
                process.wait()

    def restart(self) -> None:
        self.restarts.start()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with throwaway_redis() as (url, process):
        with SyncRedis.from_url(url) as admin:
            workdir = admin.config_get("dir")["dir"]
        restarts = SamePortRedis(url, workdir)
        try:
            yield PrivateRedis(url, process, restarts)
        finally:
            restarts.stop()


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[Redis]:
    """A client of its own on the test Redis (for checks and for install())."""
    client = make_client(settings)
    yield client
    await client.aclose()
