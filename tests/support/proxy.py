"""A TCP proxy in front of a real store that a test can cut or stall, to see the app through an outage.

It runs its own event loop in a thread, so sync and async tests use it alike and the app under test (another
process) talks to it like to the store itself.
- `cut()`: every open connection is closed and new ones are refused (nothing listens on the port).
- `reject()`: every open connection is closed and new ones are accepted and closed at once (counted in
  `rejected`: the store connections the app attempted).
- `stall()`: connections stay open and new ones are accepted, but nothing is forwarded either way.
- `restore()`: forward again (a cut proxy listens again on the same port).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.processes import free_port


class StoreProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.stalled = False
        self.rejecting = False
        self.rejected = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="store-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ control (from any thread)

    def start(self) -> StoreProxy:
        self._thread.start()
        self._run(self._listen())
        return self

    def cut(self) -> None:
        self._run(self._cut())

    def reject(self) -> None:
        self.rejecting = True
        self._run(self._close_connections())

    def stall(self) -> None:
        self.stalled = True

    def restore(self) -> None:
        self.stalled = self.rejecting = False
        if self._server is None:
            self._run(self._listen())

    def close(self) -> None:
        self._run(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    # ------------------------------------------------------------------ the proxy (its own loop)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._close_connections()

    async def _close_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.rejecting:
            self.rejected += 1
            client_writer.transport.abort()
            return
        self._writers.add(client_writer)
        try:
            store_reader, store_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.add(store_writer)
        await asyncio.gather(
            self._pump(client_reader, store_writer), self._pump(store_reader, client_writer), return_exceptions=True
        )
        for writer in (client_writer, store_writer):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            if self.stalled:
                continue  # swallowed: the other side waits for an answer that never comes
            writer.write(data)
            await writer.drain()


@contextmanager
def store_proxy(target_host: str, target_port: int) -> Iterator[StoreProxy]:
    """A running proxy to target for the duration of the block."""
    proxy = StoreProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        with contextlib.suppress(Exception):
            proxy.close()
