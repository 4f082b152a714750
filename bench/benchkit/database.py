"""The bench stores: create, migrate and seed them; read expectations; count statements per request."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from pymongo import MongoClient

from benchkit.config import MONGO_URL, PG_DSN, REDIS_URL, VENV_PYTHON, WORK_DIR, DataSet
from benchkit.procs import Measured, run_measured
from benchkit.source import Source

BENCH_TITLE_PREFIX = "bench-"
BOARD_SIZE = 50
BENCH_JWT_SECRET = "bench-only-jwt-secret-0123456789abcdef-0123456789abcdef"
# The rate limiter runs as in production (on, charged by query cost per member) with the largest budget the
# settings allow, so that it costs what it costs per request but never refuses the bench's members.
RATE_LIMIT_POINTS = 100_000_000
RATE_LIMIT_WINDOW_S = 60
# Every WebSocket of the fan-out comes from 127.0.0.1: the per-address cap (100) would refuse real users'
# sockets that come from many addresses. The per-principal cap (20) stays: each subscriber is its own member.
WS_MAX_CONNECTIONS_PER_ADDRESS = 100_000
# Statements of the bench itself, never of a server under test.
_OWN_STATEMENTS = "query NOT ILIKE '%pg_stat_statements%'"


def app_env(source: Source, **extra: str) -> dict[str, str]:
    """Environment for the app's own commands against the bench stores, configured as in production."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "MONGODB_", "REDIS_", "CACHE_", "RATE_LIMIT_", "WS_"))}
    env.update(
        DATABASE_URL=PG_DSN,
        MONGODB_URL=MONGO_URL,
        REDIS_URL=REDIS_URL,
        APP_ENV="prod",
        AERICH_NO_TORTOISE_V1_WARNING="1",
        PYTHONDONTWRITEBYTECODE="1",
        # prod refuses the development JWT secret; the bench's own is fixed so that minted tokens stay valid.
        JWT_HS256_SECRET=BENCH_JWT_SECRET,
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_POINTS=str(RATE_LIMIT_POINTS),
        RATE_LIMIT_WINDOW_S=str(RATE_LIMIT_WINDOW_S),
        WS_MAX_CONNECTIONS_PER_ADDRESS=str(WS_MAX_CONNECTIONS_PER_ADDRESS),
        **source.env(),
    )
    env.update(extra)
    return env


def app_command(*args: str) -> list[str]:
    return [str(VENV_PYTHON), "-m", "app.cli", *args]


def migrate(source: Source) -> None:
    result = run_measured(
        app_command("migrate"), env=app_env(source), cwd=source.path, log=WORK_DIR / "logs" / "migrate.log",
        timeout_s=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"taskboard migrate failed:\n{result.output[-3000:]}")


def seeder_options(source: Source) -> list[str]:
    """Extra seeder flags this source supports (a tag count, when the seeder has one)."""
    out = subprocess.run(
        app_command("seed", "--help"), env=app_env(source), cwd=source.path, capture_output=True, text=True,
        check=False,
    ).stdout
    return ["--tags"] if "--tags" in out else []


def seed(source: Source, data: DataSet, *, tasks: int | None = None, log_name: str = "seed.log") -> Measured:
    """`taskboard seed --clear --yes` with the data set (tasks overridden for the seeding workload)."""
    args = ["seed", "--users", str(data.users), "--tasks", str(tasks or data.tasks), "--seed", str(data.seed)]
    if "--tags" in seeder_options(source):
        args += ["--tags", str(data.tags)]
    result = run_measured(
        app_command(*args, "--clear", "--yes"), env=app_env(source), cwd=source.path,
        log=WORK_DIR / "logs" / log_name, timeout_s=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"taskboard seed failed (exit {result.returncode}):\n{result.output[-3000:]}")
    return result


async def connect() -> asyncpg.Connection:
    return await asyncpg.connect(PG_DSN)


async def prepare_for_peers() -> None:
    """Let PostGraphile filter on deleted_at (unindexed columns are not filterable by default) and
    give the planner fresh statistics. A column comment is invisible to the app."""
    conn = await connect()
    try:
        await conn.execute("COMMENT ON COLUMN tasks.deleted_at IS E'@behavior +attribute:filterBy'")
        await conn.execute("VACUUM ANALYZE tasks, task_tags, tags")
    finally:
        await conn.close()


async def remove_bench_tasks(*, settle_s: float = 0.5, timeout_s: float = 15.0) -> int:
    """Delete what the write workloads created (their titles start with 'bench-'); tag links cascade.

    A server still works through requests wrk sent before it stopped: wait until no new rows appear."""
    conn = await connect()
    try:
        deadline = time.monotonic() + timeout_s
        count = await conn.fetchval("SELECT count(*) FROM tasks WHERE title LIKE $1", BENCH_TITLE_PREFIX + "%")
        while time.monotonic() < deadline:
            await asyncio.sleep(settle_s)
            now = await conn.fetchval("SELECT count(*) FROM tasks WHERE title LIKE $1", BENCH_TITLE_PREFIX + "%")
            if now == count:
                break
            count = now
        status = await conn.execute("DELETE FROM tasks WHERE title LIKE $1", BENCH_TITLE_PREFIX + "%")
        await conn.execute("VACUUM ANALYZE tasks, task_tags")
        return int(status.split()[-1])
    finally:
        await conn.close()


def flush_redis() -> None:
    """Empty Redis db 7 so that no cached result outlives the server that wrote it."""
    from redis import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


# ---------------------------------------------------------------- expectations


@dataclass(frozen=True)
class ExpectedTask:
    id: str
    title: str
    status: str
    tag_names: tuple[str, ...]
    assignee_id: str | None


@dataclass(frozen=True)
class Expectations:
    board: list[ExpectedTask]
    board_total: int
    single: ExpectedTask
    tag_ids: tuple[str, str]
    tag_names: tuple[str, str]


async def _tags_of(conn: asyncpg.Connection, ids: list[Any]) -> dict[Any, tuple[str, ...]]:
    rows = await conn.fetch(
        "SELECT tt.task_id, g.name FROM task_tags tt JOIN tags g ON g.id = tt.tag_id "
        "WHERE tt.task_id = ANY($1::uuid[]) ORDER BY lower(g.name)",
        ids,
    )
    found: dict[Any, list[str]] = {}
    for row in rows:
        found.setdefault(row["task_id"], []).append(row["name"])
    return {key: tuple(names) for key, names in found.items()}


def _expected(row: asyncpg.Record, tags: dict[Any, tuple[str, ...]]) -> ExpectedTask:
    return ExpectedTask(
        id=str(row["id"]), title=row["title"], status=row["status"], tag_names=tags.get(row["id"], ()),
        assignee_id=row["assignee_id"],
    )


async def expectations() -> Expectations:
    """What correct answers contain, read straight from PostgreSQL."""
    conn = await connect()
    try:
        board = await conn.fetch(
            "SELECT id, title, status, assignee_id FROM tasks WHERE status = 'TODO' AND deleted_at IS NULL "
            "ORDER BY created_at DESC, id DESC LIMIT $1",
            BOARD_SIZE,
        )
        total = await conn.fetchval("SELECT count(*) FROM tasks WHERE status = 'TODO' AND deleted_at IS NULL")
        single = await conn.fetchrow(
            "SELECT t.id, t.title, t.status, t.assignee_id FROM tasks t WHERE t.deleted_at IS NULL "
            "AND t.assignee_id IS NOT NULL AND (SELECT count(*) FROM task_tags tt WHERE tt.task_id = t.id) = 2 "
            "ORDER BY t.id LIMIT 1"
        )
        tags = await conn.fetch("SELECT id, name FROM tags ORDER BY lower(name) LIMIT 2")
        tag_map = await _tags_of(conn, [r["id"] for r in board] + [single["id"]])
    finally:
        await conn.close()
    if single is None or len(tags) < 2:
        raise RuntimeError("the seeded data set has no task with two tags and an assignee, or fewer than two tags")
    return Expectations(
        board=[_expected(row, tag_map) for row in board],
        board_total=total,
        single=_expected(single, tag_map),
        tag_ids=(str(tags[0]["id"]), str(tags[1]["id"])),
        tag_names=(tags[0]["name"], tags[1]["name"]),
    )


async def data_set_counts() -> dict[str, int]:
    """What the seeder actually produced (reported next to what was asked for)."""
    conn = await connect()
    try:
        counts = {
            "tasks": await conn.fetchval("SELECT count(*) FROM tasks"),
            "tags": await conn.fetchval("SELECT count(*) FROM tags"),
            "task_tags": await conn.fetchval("SELECT count(*) FROM task_tags"),
            "todo_live": await conn.fetchval("SELECT count(*) FROM tasks WHERE status='TODO' AND deleted_at IS NULL"),
        }
    finally:
        await conn.close()
    client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URL)
    try:
        counts["users"] = client.get_default_database()["users"].count_documents({})
    finally:
        client.close()
    return counts


def user_ids() -> list[str]:
    """Every seeded user's id, in id order (the bench's members)."""
    client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URL)
    try:
        ids = [str(u["_id"]) for u in client.get_default_database()["users"].find({}, {"_id": 1}, sort=[("_id", 1)])]
    finally:
        client.close()
    if not ids:
        raise RuntimeError("no users in the bench data set")
    return ids


async def created_count(prefix: str) -> int:
    conn = await connect()
    try:
        return await conn.fetchval("SELECT count(*) FROM tasks WHERE title LIKE $1", prefix + "%")
    finally:
        await conn.close()


# ---------------------------------------------------------------- statement counts


async def reset_statements(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_stat_statements_reset()")


async def statement_calls(conn: asyncpg.Connection) -> tuple[int, list[tuple[int, str]]]:
    """Calls recorded for the bench database since the reset, and the top statements by calls."""
    rows = await conn.fetch(
        "SELECT calls, query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE "
        f"datname = current_database()) AND {_OWN_STATEMENTS} ORDER BY calls DESC"
    )
    total = sum(row["calls"] for row in rows)
    return total, [(row["calls"], " ".join(row["query"].split())[:160]) for row in rows[:12]]
