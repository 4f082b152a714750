"""Probe: fan-out to subscribers that each sign in with their own member token (issue 15, "Multiplex
subscriptions across principals"). Not part of `bench/run`; run it by hand from the repository root:

    .venv/bin/python bench/benchkit/fanout_members_probe.py --subscribers 1000 --workers 1
    .venv/bin/python bench/benchkit/fanout_members_probe.py --subscribers 5000 --workers 2
    .venv/bin/python bench/benchkit/fanout_members_probe.py --query ''   # the fan-out workload's own document

It measures the working tree (not an export of HEAD) on its own stores: PostgreSQL database
`taskboard_probe_members` (created and migrated), Mongo database of the same name, Redis db 11 (flushed
first). The server runs as in production (APP_ENV=prod, rate limiter on, INFO logs) on a free port with a
fixed probe secret. One admin creates a task every 100 ms assigned to a member that exists as a user; every
subscriber (N distinct member ids, each its own token) subscribes to a document that selects the
assignee's email, so exactly one of them sees it unmasked. Latency = a subscriber's receive time minus the
time the mutation's HTTP response arrived (CLOCK_MONOTONIC in every process), as in benchkit/fanout.py,
whose orchestration (spawned client processes, priming, draining, percentiles) this reuses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchkit import gobuild  # noqa: E402
from benchkit.config import REPO_DIR, VENV_PYTHON, WORK_DIR  # noqa: E402
from benchkit.fanout import MARKER, _drain, _latencies, _spawn, _tokens_file, percentile, warnings_in  # noqa: E402
from benchkit.measure import metric_sums  # noqa: E402
from benchkit.procs import machine_busy_seconds, cpu_by_pid, cpu_delta, peak_rss, reset_peak_rss, start_server, wait_until  # noqa: E402

DATABASE = "taskboard_probe_members"
PG_DSN = f"postgres://taskboard:taskboard@127.0.0.1:5432/{DATABASE}?sslmode=disable"
MONGO_URL = f"mongodb://127.0.0.1:27017/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/11"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
SECRET = "probe-members-secret-0123456789abcdef0123456789"
SUBSCRIPTION = "subscription Fanout { taskChanged { kind task { id title assignee { id email } } changedFields } }"
MUTATION = "mutation Fanout($input: CreateTaskInput!) { createTask(input: $input) { id } }"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "MONGODB_", "REDIS_", "CACHE_"))}
    env.update(DATABASE_URL=PG_DSN, MONGODB_URL=MONGO_URL, REDIS_URL=REDIS_URL, APP_ENV="prod",
               JWT_HS256_SECRET=SECRET, AERICH_NO_TORTOISE_V1_WARNING="1", PYTHONDONTWRITEBYTECODE="1",
               # N sockets from one address sign in one by one; the per-address cap counts only unsigned ones.
               WS_MAX_CONNECTIONS_PER_ADDRESS="1000", **extra)
    return env


def _app(*args: str, **env: str) -> str:
    result = subprocess.run([str(VENV_PYTHON), "-m", "app.cli", *args], env=_env(**env), cwd=REPO_DIR,
                            capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def _prepare_stores() -> None:
    psql = ["psql", "-h", "127.0.0.1", "-U", "taskboard", "-d", "postgres", "-X", "-qtA", "-c"]
    pg_env = {**os.environ, "PGPASSWORD": "taskboard"}
    exists = subprocess.run([*psql, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"], env=pg_env,
                            capture_output=True, text=True, check=True).stdout.strip()
    if not exists:
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "taskboard", DATABASE], env=pg_env, check=True)
    _app("migrate")
    subprocess.run(["redis-cli", "-n", "11", "flushdb"], check=True, capture_output=True)


def _tokens(user_ids: list[str], role: str) -> list[str]:
    """Tokens minted in one process (the `token` command per id would take minutes for 5,000)."""
    code = ("import sys, json; from app.auth.tokens import mint_for_settings; from app.settings import load_settings;"
            "s = load_settings(); ids = json.load(sys.stdin);"
            f"print(json.dumps([mint_for_settings(s, user_id=i, role={role!r}, ttl_s=7200) for i in ids]))")
    result = subprocess.run([str(VENV_PYTHON), "-c", code], input=json.dumps(user_ids), env=_env(), cwd=REPO_DIR,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


async def _mutate(http: httpx.AsyncClient, url: str, title: str, assignee: str) -> tuple[float, float]:
    sent = time.monotonic()
    response = await http.post(url, json={"query": MUTATION,
                                          "variables": {"input": {"title": title, "assigneeId": assignee}}})
    answered = time.monotonic()
    if response.status_code != 200 or response.json().get("errors"):
        raise RuntimeError(f"createTask failed: {response.text[:300]}")
    return sent, answered


async def _metrics(http: httpx.AsyncClient, base: str) -> dict[str, float]:
    text = (await http.get(f"{base}/metrics")).text
    return metric_sums(text, ("taskboard_subscription_event_results_total", "taskboard_subscription_event_masking_total",
                              "taskboard_mongo_seconds_sum", "taskboard_mongo_seconds_count",
                                                 "taskboard_subscription_deliveries_total"))


async def probe(
    subscribers: int, workers: int, clients: int, duration_s: float, interval_s: float, profile: bool = False,
    query: str = SUBSCRIPTION,
) -> dict[str, Any]:
    WORK_DIR.mkdir(exist_ok=True)
    _prepare_stores()
    log = WORK_DIR / "logs" / f"probe-members-{subscribers}-{workers}w.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = start_server("app", [str(VENV_PYTHON), "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port",
                                  str(port), "--workers", str(workers)], env=_env(), cwd=REPO_DIR, log=log)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/graphql"
    try:
        wait_until(lambda: httpx.get(f"{base}/health/ready", timeout=1).status_code == 200, timeout_s=60,
                   server=server)
        admin = _tokens(["a0a0a0a0a0a0a0a0a0a0a0a0"], "admin")[0]
        async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {admin}"}) as http:
            created = (await http.post(url, json={"query": 'mutation { createUser(input: {email: '
                       f'"probe-{time.time_ns()}@example.com", name: "Probe"}}) {{ id }} }}'})).json()
            if not created.get("data"):
                raise RuntimeError(f"createUser failed: {created}")
            assignee = created["data"]["createUser"]["id"]
            member_ids = [assignee] + [f"{i:024x}" for i in range(1, subscribers)]
            tokens = _tokens(member_ids, "member")
            per = subscribers // clients
            reset_peak_rss(server.pids)
            tokens_file = _tokens_file([f"Bearer {t}" for t in tokens[:per * clients]], "probe-members")
            spawned = [await _spawn(url.replace("http://", "ws://"), per, i, tokens_file, query=query,
                                    label="probe-members") for i in range(clients)]
            await asyncio.gather(*(c.expect("READY", 180) for c in spawned))
            waiting = asyncio.gather(*(c.expect("PRIMED", 60) for c in spawned))
            n = 0
            while not waiting.done():
                await _mutate(http, url, f"probe-warm {n}", assignee)
                n += 1
                await asyncio.sleep(interval_s)
            await waiting
            before_metrics = await _metrics(http, base)
            count = round(duration_s / interval_s)
            server_before = cpu_by_pid(server.pids)
            client_pids = [c.proc.pid for c in spawned]
            clients_before = cpu_by_pid(client_pids)
            busy_before = machine_busy_seconds()
            started = time.monotonic()

            async def at(seq: int) -> tuple[float, float]:
                await asyncio.sleep(max(0.0, started + seq * interval_s - time.monotonic()))
                return await _mutate(http, url, f"{MARKER}{seq}", assignee)

            spy = None
            if profile:
                spy = await asyncio.create_subprocess_exec(
                    str(VENV_PYTHON.parent / "py-spy"), "record", "--subprocesses", "--format", "raw", "--nonblocking",
                    "-d", str(int(duration_s)), "-o", str(WORK_DIR / "probe-members-profile.txt"),
                    "-p", str(server.proc.pid), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            times = dict(enumerate(await asyncio.gather(*(at(seq) for seq in range(count)))))
            if spy is not None:
                await spy.wait()
            drained = await _drain(server)
            elapsed = time.monotonic() - started
            server_cpu = cpu_delta(server_before, cpu_by_pid(server.pids))
            client_cpu = cpu_delta(clients_before, cpu_by_pid(client_pids))
            busy_after = machine_busy_seconds()
            after_metrics = await _metrics(http, base)
            rss = peak_rss(server.pids)
            results = [await c.stop() for c in spawned]
    finally:
        server.stop()
    received: dict[str, list[float]] = {}
    for result in results:
        for key, arrivals in result["received"].items():
            received.setdefault(key, []).extend(arrivals)
    latencies = _latencies(received, times, from_send=False)
    expected = per * clients * count
    return {
        "subscribers": per * clients, "workers": workers, "mutations": count, "interval_s": interval_s,
        "delivered": len(latencies), "expected": expected, "lost": expected - len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "mutation_p99_ms": round(percentile([(b - a) * 1000 for a, b in times.values()], 99), 1),
        "server_cpu_pct": round(100 * server_cpu / elapsed, 1),
        "client_cpu_pct": round(100 * client_cpu / elapsed, 1),
        "machine_busy_pct": round(100 * (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1e-9), 1), "peak_rss_mb": round(rss / 2**20, 1),
        "drained": drained, "client_errors": sum(r["error_count"] for r in results),
        "sample_errors": [e for r in results for e in r["errors"]][:3],
        "metrics_delta": {k: after_metrics.get(k, 0) - before_metrics.get(k, 0) for k in after_metrics},
        "server_warnings": warnings_in(log),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=2, help="subscriber processes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the server during the timed phase (raw stacks: bench/.work/probe-members-profile.txt)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    parser.add_argument("--query", default=SUBSCRIPTION,
                        help="the subscribers' document (default: one selecting the assignee's email; '' for "
                             "bench/wsclient's own, the fan-out workload's)")
    args = parser.parse_args()
    for item in args.env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    gobuild.binary("wsclient")
    print(json.dumps(asyncio.run(probe(args.subscribers, args.workers, args.clients, args.seconds, args.interval,
                                            args.profile, args.query)),
                     indent=2))


if __name__ == "__main__":
    main()
