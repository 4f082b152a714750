"""`taskboard migrate` at deploy: replicas serialise on an advisory lock; readiness waits for migrations."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import httpx

from app.stores.migrations import ADVISORY_LOCK_KEY, migration_files
from tests.data_migrations.support import run_cli
from tests.migrations.conftest import connect
from tests.support.processes import ROOT, app_server

APPLIED = re.compile(r"^applied (\d+) migration\(s\)", re.MULTILINE)


def start_migrate(database_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def applied_count(stdout: str) -> int:
    match = APPLIED.search(stdout)
    assert match, stdout
    return int(match.group(1))


async def aerich_versions(database_url: str) -> list[str]:
    conn = await connect(database_url)
    try:
        if await conn.fetchval("SELECT to_regclass('aerich') IS NULL"):
            return []
        return [row["version"] for row in await conn.fetch("SELECT version FROM aerich ORDER BY id")]
    finally:
        await conn.close()


async def test_two_concurrent_migrate_runs_apply_each_migration_exactly_once(fresh_database_url: str) -> None:
    first, second = start_migrate(fresh_database_url), start_migrate(fresh_database_url)
    outputs = await asyncio.gather(
        asyncio.to_thread(first.communicate, timeout=120), asyncio.to_thread(second.communicate, timeout=120)
    )

    assert (first.returncode, second.returncode) == (0, 0), outputs
    assert sorted(applied_count(stdout) for stdout, _ in outputs) == [0, len(migration_files())]
    assert await aerich_versions(fresh_database_url) == migration_files()


async def test_migrate_waits_while_another_replica_holds_the_lock(fresh_database_url: str) -> None:
    holder = await connect(fresh_database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        waiting = start_migrate(fresh_database_url)

        # the replica is waiting for the lock (polling it, so that it holds no snapshot a concurrent index
        # build would wait for), and has applied nothing
        for _ in range(300):
            polling = await holder.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND query LIKE 'SELECT pg_try_advisory_lock%'"
            )
            if polling:
                break
            await asyncio.sleep(0.1)
        assert polling == 1
        await asyncio.sleep(1.0)
        assert waiting.poll() is None
        assert await aerich_versions(fresh_database_url) == []

        await holder.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
        stdout, stderr = await asyncio.to_thread(waiting.communicate, timeout=120)
    finally:
        await holder.close()

    assert waiting.returncode == 0, stderr
    assert applied_count(stdout) == len(migration_files())


async def test_ready_is_503_with_pending_migrations_until_taskboard_migrate(fresh_database_url: str) -> None:
    with app_server({"DATABASE_URL": fresh_database_url}) as server:
        before = await asyncio.to_thread(httpx.get, f"{server.base_url}/health/ready", timeout=10)

        migrated = await asyncio.to_thread(run_cli, "migrate", env={"DATABASE_URL": fresh_database_url})
        after = await asyncio.to_thread(httpx.get, f"{server.base_url}/health/ready", timeout=10)

    assert before.status_code == 503, before.text
    body = before.json()
    assert body["failing"] == ["migrations"]
    assert body["checks"]["migrations"] == {"status": "pending", "pending": migration_files()}
    assert body["checks"]["postgres"]["status"] == "up"
    assert migrated.returncode == 0, migrated.stderr
    assert after.status_code == 200, after.text
    assert after.json()["checks"]["migrations"] == {"status": "up", "pending": []}
