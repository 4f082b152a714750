"""One measured window: check the answer, warm up, then time a fixed duration and read the counters."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import httpx

from benchkit import auth, database
from benchkit.config import RunConfig
from benchkit.database import Expectations
from benchkit.loadgen import run_wrk, write_body
from benchkit.procs import (
    Server,
    cpu_by_pid,
    cpu_delta,
    ferretdb_pids,
    machine_busy_seconds,
    peak_rss,
    postgres_backends,
    reset_peak_rss,
)
from benchkit.servers import ServerConfig, post
from benchkit.workloads import Request

PG_DATABASE = "taskboard_bench"


@dataclass
class Window:
    """The outcome of one workload on one server in one round (status ok, n/a or failed)."""

    workload: str
    server: str
    round: int
    status: str
    note: str = ""
    processes: int = 1
    principals: int = 0
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_ms_per_req: float = 0.0
    pg_cpu_ms_per_req: float = 0.0
    mongo_cpu_ms_per_req: float = 0.0
    sql_per_req: float = 0.0
    peak_rss_mb: float = 0.0
    wrk_cpu_pct: float = 0.0
    machine_busy_pct: float = 0.0
    bad: int = 0
    top_statements: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def metric_sums(text: str, prefixes: tuple[str, ...]) -> dict[str, float]:
    """The samples of a /metrics text whose name starts with one of `prefixes`, by sample (name and labels),
    repeated samples summed."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(prefixes):
            name, value = line.rsplit(" ", 1)
            found[name] = found.get(name, 0.0) + float(value)
    return found


def not_measured(workload: str, config: ServerConfig, round_no: int, status: str, note: str) -> Window:
    return Window(workload=workload, server=config.name, round=round_no, status=status, note=note,
                  processes=config.workers, principals=principals(config))


def principals(config: ServerConfig) -> int:
    """Distinct principals the requests carry (the peers ignore the tokens: 0 for them)."""
    return auth.principal_count() if config.kind == "app" else 0


SEQUENTIAL_REQUESTS = 20


def _check_body(body: dict[str, Any], marker: str = "check") -> dict[str, Any]:
    """The body a check sends: templated writes get a fixed marker instead of wrk's sequence."""
    return json.loads(json.dumps(body).replace("__SEQ__", marker))


async def sequential_statements(url: str, body: dict[str, Any], stats: asyncpg.Connection) -> tuple[float, list]:
    """SQL statements per request, exactly: requests one after another, none in flight at either end."""
    await database.reset_statements(stats)
    with httpx.Client(headers=auth.headers(), timeout=30) as client:
        for i in range(SEQUENTIAL_REQUESTS):
            client.post(url, json=_check_body(body, f"sequential-{i}")).raise_for_status()
    calls, top = await database.statement_calls(stats)
    return calls / SEQUENTIAL_REQUESTS, top


@dataclass
class Counters:
    server_cpu: dict[int, float]
    pg_cpu: dict[int, float]
    mongo_cpu: dict[int, float]
    busy: tuple[float, float]

    @classmethod
    def read(cls, server: Server) -> Counters:
        return cls(
            cpu_by_pid(server.pids), cpu_by_pid(postgres_backends(PG_DATABASE)), cpu_by_pid(ferretdb_pids()),
            machine_busy_seconds(),
        )


async def measure(
    *,
    workload: str,
    config: ServerConfig,
    server: Server,
    request: Request,
    exp: Expectations,
    run: RunConfig,
    stats: asyncpg.Connection,
    round_no: int,
) -> Window:
    """Check one answer, warm up, then the timed window with CPU, RSS and SQL counters around it."""
    try:
        problem = request.check(post(config.url, _check_body(request.body)), exp)
    except Exception as exc:  # noqa: BLE001 - any failure to answer is a failed check
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        return not_measured(workload, config, round_no, "failed", f"wrong answer: {problem}")
    sql_per_req, top = await sequential_statements(config.url, request.body, stats)
    body = write_body(f"{workload}-{config.kind}".replace(" ", "-"), request.body)
    reset_peak_rss(server.pids)
    run_wrk(config.url, body, seconds=run.warmup_s, threads=run.wrk_threads, connections=run.wrk_connections)
    before = Counters.read(server)
    result = run_wrk(config.url, body, seconds=run.duration_s, threads=run.wrk_threads, connections=run.wrk_connections)
    after = Counters.read(server)
    requests = max(result.requests, 1)
    busy = after.busy[0] - before.busy[0]
    elapsed = after.busy[1] - before.busy[1]
    window = Window(
        workload=workload,
        server=config.name,
        round=round_no,
        status="ok",
        processes=config.workers,
        principals=principals(config),
        requests=result.requests,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        cpu_ms_per_req=cpu_delta(before.server_cpu, after.server_cpu) * 1000 / requests,
        pg_cpu_ms_per_req=cpu_delta(before.pg_cpu, after.pg_cpu) * 1000 / requests,
        mongo_cpu_ms_per_req=cpu_delta(before.mongo_cpu, after.mongo_cpu) * 1000 / requests,
        sql_per_req=sql_per_req,
        peak_rss_mb=peak_rss(server.pids) / 2**20,
        wrk_cpu_pct=100 * result.wrk_cpu_s / result.seconds if result.seconds else 0.0,
        machine_busy_pct=100 * busy / elapsed if elapsed else 0.0,
        bad=result.bad + result.socket_errors,
        top_statements=top,
    )
    if window.bad:
        window.status = "failed"
        window.note = f"{window.bad} bad responses or socket errors of {result.requests}"
    return window
