"""Workload 5: WebSocket subscribers on taskChanged, each its own member principal (1,000 on one worker,
5,000 on two), one createTask every 100 ms, delivery latency measured from the mutation's HTTP response to
each subscriber's receipt. The subscribers are processes of bench/wsclient (Go, stdlib; its header has the
line protocol and the result file)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchkit import auth, gobuild
from benchkit.config import WORK_DIR, RunConfig
from benchkit.database import BENCH_TITLE_PREFIX, app_command, app_env
from benchkit.procs import Server, cpu_by_pid, cpu_delta, peak_rss, reset_peak_rss
from benchkit.servers import ServerConfig
from benchkit.source import Source

MARKER = "bench-fanout "  # timed titles are MARKER + seq; bench/wsclient parses the same prefix
MUTATION = "mutation Fanout($input: CreateTaskInput!) { createTask(input: $input) { id } }"
PRIME_TIMEOUT_S = 20.0
READY_TIMEOUT_S = 90.0
GRACE_S = 2.0
DRAIN_MAX_S = 45.0
QUIET_CPU_SHARE = 0.1


@dataclass
class FanoutResult:
    status: str
    note: str = ""
    server: str = ""
    workers: int = 1
    principals: int = 0
    subscribers: int = 0
    mutations: int = 0
    interval_s: float = 0.1
    delivered: int = 0
    expected: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    p99_from_send_ms: float = 0.0
    mutation_p99_ms: float = 0.0
    server_cpu_pct: float = 0.0
    peak_rss_mb: float = 0.0
    client_cpu_pct: float = 0.0
    client_errors: int = 0
    sample_errors: list[str] = field(default_factory=list)
    lost_everywhere: int = 0
    deliveries_per_s: float = 0.0
    drained: bool = True
    server_warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def has_subscription(source: Source) -> bool:
    """Whether the measured code's schema has Subscription.taskChanged."""
    sdl = subprocess.run(
        app_command("export-schema"), env=app_env(source), cwd=source.path, capture_output=True, text=True,
        check=False,
    ).stdout
    start = sdl.find("type Subscription")
    return start >= 0 and "taskChanged" in sdl[start : sdl.find("}", start)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


@dataclass
class Client:
    proc: asyncio.subprocess.Process
    out: str

    async def expect(self, word: str, timeout_s: float) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"subscriber client did not print {word} within {timeout_s:.0f}s")
            line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            if not line:
                log = Path(self.out + ".log")
                said = log.read_text(errors="replace").strip()[-300:] if log.exists() else ""
                raise RuntimeError(f"subscriber client exited before {word} (log: {log}): {said}")
            if line.decode().strip() == word:
                return

    async def stop(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"STOP\n")
        await self.proc.stdin.drain()
        await self.expect("DONE", 60)
        await self.proc.wait()
        with open(self.out) as handle:
            return json.load(handle)


def _tokens_file(authorizations: list[str], label: str = "fanout") -> str:
    """The clients' --tokens file: one 'Bearer ...' line per subscriber ('' without any)."""
    if not authorizations:
        return ""
    path = WORK_DIR / f"{label}-tokens.txt"
    path.write_text("".join(a + "\n" for a in authorizations))
    return str(path)


async def _spawn(url: str, count: int, index: int, tokens: str, *, query: str = "", label: str = "fanout") -> Client:
    """Subscriber process `index`: `count` sockets signed in with lines index * count + i of `tokens`, on
    `query` (default: the client's own document, the one in bench/README.md)."""
    out = str(WORK_DIR / f"{label}-client-{index}.json")
    log = open(out + ".log", "w")
    proc = await asyncio.create_subprocess_exec(
        str(gobuild.binary("wsclient")), "--url", url, "--count", str(count), "--out", out, "--tokens", tokens,
        "--offset", str(index * count), *(["--query", query] if query else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    log.close()
    return Client(proc=proc, out=out)


async def _mutate(http: httpx.AsyncClient, url: str, title: str) -> tuple[float, float]:
    """(sent, answered) monotonic times of one createTask."""
    sent = time.monotonic()
    response = await http.post(url, json={"query": MUTATION, "variables": {"input": {"title": title}}})
    answered = time.monotonic()
    body = response.json()
    if body.get("errors") or response.status_code != 200:
        raise RuntimeError(f"createTask failed: {str(body)[:300]}")
    return sent, answered


async def _prime(http: httpx.AsyncClient, url: str, clients: list[Client], interval_s: float) -> None:
    """Send warm-up mutations until every subscriber has received one (subscriptions are live)."""
    waiting = asyncio.gather(*(c.expect("PRIMED", PRIME_TIMEOUT_S) for c in clients))
    n = 0
    while not waiting.done():
        await _mutate(http, url, f"{BENCH_TITLE_PREFIX}fanout-warm {n}")
        n += 1
        await asyncio.sleep(interval_s)
    await waiting


async def _timed(http: httpx.AsyncClient, url: str, count: int, interval_s: float) -> dict[int, tuple[float, float]]:
    """count mutations on a fixed schedule (one every interval_s, not waiting for the previous one)."""
    start = time.monotonic()

    async def at(seq: int) -> tuple[float, float]:
        await asyncio.sleep(max(0.0, start + seq * interval_s - time.monotonic()))
        return await _mutate(http, url, f"{MARKER}{seq}")

    times = await asyncio.gather(*(at(seq) for seq in range(count)))
    return dict(enumerate(times))


async def _drain(server: Server) -> bool:
    """Wait until the server has finished fanning out (its CPU goes quiet), at most DRAIN_MAX_S.

    A saturated server delivers long after the last mutation; stopping early would count late
    deliveries as lost. False when it was still busy at the deadline."""
    deadline = time.monotonic() + DRAIN_MAX_S
    await asyncio.sleep(GRACE_S)
    while time.monotonic() < deadline:
        before = cpu_by_pid(server.pids)
        await asyncio.sleep(1.0)
        if cpu_delta(before, cpu_by_pid(server.pids)) < QUIET_CPU_SHARE:
            return True
    return False


def warnings_in(log: Path, limit: int = 6) -> list[str]:
    """The server's distinct WARNING/ERROR messages (logger and text, without numbers), with counts."""
    seen: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        match = re.search(r" (WARNING|ERROR) (\S+): (.*)", line)
        if match:
            seen[f"{match[1]} {match[2]}: " + re.sub(r"\d+(\.\d+)?", "N", match[3])[:110]] += 1
    return [f"{count}x {text}" for text, count in seen.most_common(limit)]


def _latencies(received: dict[str, list[float]], times: dict[int, tuple[float, float]], *, from_send: bool) -> list[float]:
    out: list[float] = []
    for key, arrivals in received.items():
        seq = int(key)
        if seq not in times:
            continue
        origin = times[seq][0] if from_send else times[seq][1]
        out.extend((arrival - origin) * 1000 for arrival in arrivals)
    return out


async def run_fanout(config: ServerConfig, server: Server, run: RunConfig, subscribers: int,
                     client_count: int) -> FanoutResult:
    """Connect the subscribers (one principal each), prime them, then time the mutations and collect every receipt."""
    ws_url = config.url.replace("http://", "ws://")
    per_client = subscribers // client_count
    subscribers = per_client * client_count
    principals = auth.principals(subscribers)
    tokens = _tokens_file([m.authorization for m in principals])
    reset_peak_rss(server.pids)
    clients = [await _spawn(ws_url, per_client, i, tokens) for i in range(client_count)]
    count = round(run.fanout_duration_s / run.fanout_interval_s)
    try:
        await asyncio.gather(*(c.expect("READY", READY_TIMEOUT_S) for c in clients))
        async with httpx.AsyncClient(timeout=30, headers=auth.headers()) as http:
            await _prime(http, config.url, clients, run.fanout_interval_s)
            client_pids = [c.proc.pid for c in clients]
            server_before, clients_before = cpu_by_pid(server.pids), cpu_by_pid(client_pids)
            started = time.monotonic()
            times = await _timed(http, config.url, count, run.fanout_interval_s)
            drained = await _drain(server)
            elapsed = time.monotonic() - started
            server_cpu = cpu_delta(server_before, cpu_by_pid(server.pids))
            client_cpu = cpu_delta(clients_before, cpu_by_pid(client_pids))
        rss = peak_rss(server.pids)
        results = [await c.stop() for c in clients]
    except (TimeoutError, RuntimeError) as exc:
        for c in clients:
            if c.proc.returncode is None:
                c.proc.kill()
        return FanoutResult(status="failed", note=str(exc), subscribers=subscribers, server=config.name,
                            workers=config.workers, principals=len(principals))
    received: dict[str, list[float]] = {}
    for result in results:
        for key, arrivals in result["received"].items():
            received.setdefault(key, []).extend(arrivals)
    latencies = _latencies(received, times, from_send=False)
    last_arrival = max((max(arrivals) for arrivals in received.values() if arrivals), default=0.0)
    first_sent = min(sent for sent, _ in times.values())
    errors = sum(r["error_count"] for r in results)
    mutation_ms = [(answered - sent) * 1000 for sent, answered in times.values()]
    outcome = FanoutResult(
        status="ok",
        server=config.name,
        workers=config.workers,
        principals=len(principals),
        subscribers=subscribers,
        mutations=count,
        interval_s=run.fanout_interval_s,
        delivered=len(latencies),
        expected=subscribers * count,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=0.0),
        p99_from_send_ms=percentile(_latencies(received, times, from_send=True), 99),
        mutation_p99_ms=percentile(mutation_ms, 99),
        server_cpu_pct=100 * server_cpu / elapsed,
        peak_rss_mb=rss / 2**20,
        client_cpu_pct=100 * client_cpu / elapsed,
        client_errors=errors,
        sample_errors=[e for r in results for e in r["errors"]][:5],
        deliveries_per_s=len(latencies) / (last_arrival - first_sent) if last_arrival > first_sent else 0.0,
        lost_everywhere=sum(1 for seq in times if str(seq) not in received),
        drained=drained,
        server_warnings=warnings_in(server.log),
    )
    if outcome.delivered < outcome.expected:
        outcome.note = f"{outcome.expected - outcome.delivered} of {outcome.expected} deliveries missing"
    return outcome
