"""The hot standby `scripts/services up replica` runs (port 5433), and app instances that read from it.

Tests make it lag on purpose (replay paused on the standby) or stop it with pg_ctl (through Debian's
pg_ctlcluster, which runs pg_ctl as the cluster's owner); both are undone when the block ends, failing or not.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from app.stores.replicas import parse_lsn
from tests.support.auth import bearer
from tests.support.processes import ServerProcess, app_server

PG_VERSION, CLUSTER = "15", "replica"


def replica_url() -> str:
    """The standby's URL for the test database (scripts/test-env's TEST_REPLICA_URL; else DATABASE_URL on 5433)."""
    if os.environ.get("TEST_REPLICA_URL"):
        return os.environ["TEST_REPLICA_URL"]
    parts = urlsplit(os.environ["DATABASE_URL"])
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:5433"))


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, what: str = "condition") -> Any:
    """Await check() until it returns something truthy (a state, not a time, is what tests wait for)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


async def primary_position() -> int:
    """The primary's WAL insert position now: every commit acknowledged so far lies below it."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        return int(await conn.fetchval("SELECT pg_current_wal_insert_lsn()"))
    finally:
        await conn.close()


async def _on_replica(sql: str) -> Any:
    conn = await asyncpg.connect(replica_url(), timeout=5)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def _as_superuser_on_replica(sql: str) -> None:
    """Replay control is for superusers: psql as the cluster's owner over its Unix socket (tests run as root)."""
    port = urlsplit(replica_url()).port or 5433
    result = subprocess.run(["su", "postgres", "-c", f'psql -p {port} -X -qtA -c "{sql}"'],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"{sql}: {result.stderr}"


@asynccontextmanager
async def replay_paused() -> AsyncIterator[None]:
    """The standby keeps receiving WAL but applies none of it until the block ends (resumed even on failure)."""
    _as_superuser_on_replica("SELECT pg_wal_replay_pause()")
    try:
        await eventually(lambda: _on_replica("SELECT pg_get_wal_replay_pause_state() = 'paused'"), what="replay paused")
        yield
    finally:
        _as_superuser_on_replica("SELECT pg_wal_replay_resume()")


def _pg_ctl(action: str) -> None:
    result = subprocess.run(
        ["pg_ctlcluster", PG_VERSION, CLUSTER, action, *(["-m", "fast"] if action == "stop" else [])],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, f"pg_ctlcluster {action}: {result.stderr}"


async def _standby_answers() -> bool:
    try:
        return bool(await _on_replica("SELECT pg_is_in_recovery()"))
    except (OSError, asyncpg.PostgresError):
        return False


@asynccontextmanager
async def replica_stopped() -> AsyncIterator[None]:
    """The standby is shut down (pg_ctl stop -m fast) for the block and started again after it, failing or not."""
    _pg_ctl("stop")
    try:
        yield
    finally:
        _pg_ctl("start")
        await eventually(_standby_answers, timeout=60, what="the standby to accept connections again")


def principal() -> dict[str, str]:
    """The Authorization header of a new admin nobody else in the run uses (its writes are its own)."""
    return bearer(secrets.token_hex(12), "admin")


_SAMPLE = re.compile(r'^taskboard_sql_reads_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Instance:
    """An app process and what the tests ask of it."""

    server: ServerProcess

    @property
    def url(self) -> str:
        return self.server.base_url

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, headers: dict[str, str]) -> dict:
        async with httpx.AsyncClient(base_url=self.url, timeout=20, headers=headers) as http:
            response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, (response.status_code, body)
        return body["data"]

    async def reads(self) -> Counter[tuple[str, str]]:
        """taskboard_sql_reads_total so far, by (target, reason)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=20) as http:
            text = (await http.get("/metrics")).text
        counts: Counter[tuple[str, str]] = Counter()
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match:
                labels = dict(_LABEL.findall(match["labels"]))
                counts[(labels["target"], labels["reason"])] += int(float(match["value"]))
        return counts

    async def counted(self, call: Callable[[], Awaitable[Any]]) -> tuple[Any, Counter[tuple[str, str]]]:
        """call()'s result and the reads it added, by (target, reason)."""
        before = await self.reads()
        result = await call()
        after = await self.reads()
        return result, after - before

    async def ready(self) -> tuple[int, dict]:
        async with httpx.AsyncClient(base_url=self.url, timeout=20) as http:
            response = await http.get("/health/ready")
        return response.status_code, response.json()

    async def replica_state(self) -> dict:
        _, report = await self.ready()
        return report["checks"]["postgres_replicas"]["replicas"]["replica1"]

    async def sees_replayed(self, position: int) -> None:
        """Wait until this instance's poller saw the replica replay `position` (and it is usable)."""
        async def replayed() -> bool:
            state = await self.replica_state()
            return state["status"] == "up" and parse_lsn(state["replayed_lsn"]) >= position

        await eventually(replayed, what=f"the replica replayed past {position}")


@contextmanager
def instances(count: int, **settings: str) -> Iterator[list[Instance]]:
    """`count` app processes reading from the standby, with these settings (upper-case environment names)."""
    env = {"DATABASE_REPLICA_URLS": replica_url(), **settings}
    with _servers(count, env) as servers:
        yield [Instance(server) for server in servers]


@contextmanager
def _servers(count: int, env: dict[str, str]) -> Iterator[list[ServerProcess]]:
    if count == 0:
        yield []
        return
    with app_server(env) as first, _servers(count - 1, env) as rest:
        yield [first, *rest]
