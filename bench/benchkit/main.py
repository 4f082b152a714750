"""bench/run: set up the data set, measure every workload on every server in alternating rounds, report."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchkit import auth, database, environment, gobuild, mixed, report
from benchkit.config import WORK_DIR, BENCH_DIR, RunConfig
from benchkit.database import Expectations
from benchkit.fanout import FanoutResult, has_subscription, run_fanout
from benchkit.measure import Window, measure, not_measured
from benchkit.mixed import MixedResult
from benchkit.procs import Server
from benchkit.report import BOARD_CACHED, BOARD_NO_ASSIGNEE, BOARD_UNCACHED, CREATE_TASK, SINGLE_TASK
from benchkit.servers import FLOOR, POSTGRAPHILE, ServerConfig, app_config, floor_config, postgraphile_config, start
from benchkit.source import Source, resolve
from benchkit.workloads import Request, board, create_task, single_task

# A cached repeat of the board should reach PostgreSQL less than once per request.
CACHE_HIT_MAX_SQL = 1.0


@dataclass(frozen=True)
class Step:
    config: ServerConfig
    workloads: tuple[str, ...]


def plan(run: RunConfig) -> list[Step]:
    """What each server runs per round; createTask goes last so its rows never reach a board window."""
    steps = [
        Step(app_config(1, cache=False), (BOARD_UNCACHED, BOARD_NO_ASSIGNEE, SINGLE_TASK)),
        Step(app_config(1, cache=True), (BOARD_CACHED, SINGLE_TASK, CREATE_TASK)),
        Step(POSTGRAPHILE, (BOARD_UNCACHED, SINGLE_TASK, CREATE_TASK)),
        Step(FLOOR, (BOARD_UNCACHED, SINGLE_TASK, CREATE_TASK)),
    ]
    if run.workers > 1:
        # Fair use of the cores: every server in `workers` processes too (ratios only within a process count).
        steps += [
            Step(app_config(run.workers, cache=False), (BOARD_UNCACHED, BOARD_NO_ASSIGNEE)),
            Step(app_config(run.workers, cache=True), (BOARD_CACHED, SINGLE_TASK)),
            Step(postgraphile_config(run.workers), (BOARD_UNCACHED, SINGLE_TASK)),
            Step(floor_config(run.workers), (BOARD_UNCACHED, SINGLE_TASK)),
        ]
    return steps


def request_for(workload: str, kind: str, exp: Expectations) -> Request | None:
    if workload in (BOARD_UNCACHED, BOARD_CACHED):
        return board(kind)
    if workload == BOARD_NO_ASSIGNEE:
        return board(kind, with_assignee=False)
    if workload == SINGLE_TASK:
        return single_task(kind, exp)
    return create_task(kind, exp)


def cache_verdict(window: Window, config: ServerConfig, workload: str) -> Window:
    """The cached board is n/a while repeating it still runs the board's SQL (no resolver cache yet)."""
    if workload == BOARD_CACHED and window.status == "ok" and window.sql_per_req >= CACHE_HIT_MAX_SQL:
        window.status = "n/a"
        window.note = (f"feature missing: resolver cache (with CACHE_ENABLED=true a repeated board still ran "
                       f"{window.sql_per_req:.1f} SQL statements per request)")
    return window


async def run_step(step: Step, source: Source, exp: Expectations, run: RunConfig, round_no: int) -> list[Window]:
    print(f"  round {round_no + 1}: {step.config.name} ...", flush=True)
    try:
        server = start(step.config, source)
    except RuntimeError as exc:
        return [not_measured(w, step.config, round_no, "failed", f"server did not start: {exc}"[:400])
                for w in step.workloads]
    stats = await database.connect()
    windows = []
    try:
        for workload in step.workloads:
            request = request_for(workload, step.config.kind, exp)
            if request is None:
                windows.append(not_measured(workload, step.config, round_no, "n/a",
                                            "no single-call equivalent (task + tag links)"))
                continue
            window = await measure(workload=workload, config=step.config, server=server, request=request, exp=exp,
                                   run=run, stats=stats, round_no=round_no)
            windows.append(cache_verdict(window, step.config, workload))
            print(f"    {workload}: {window.status} {window.rps:.0f} req/s {window.note}", flush=True)
            if workload == CREATE_TASK:
                await database.remove_bench_tasks()
    finally:
        await stats.close()
        server.stop()
    return windows


async def run_rounds(source: Source, exp: Expectations, run: RunConfig) -> list[Window]:
    """Every step in every round; odd rounds run the servers in reverse order."""
    windows: list[Window] = []
    steps = plan(run)
    for round_no in range(run.rounds):
        order = steps if round_no % 2 == 0 else list(reversed(steps))
        for step in order:
            windows += await run_step(step, source, exp, run, round_no)
    return windows


async def run_fanout_workload(source: Source, run: RunConfig) -> tuple[list[FanoutResult], str]:
    """1,000 subscribers on one worker, and 5,000 on `workers` workers; each subscriber its own member."""
    if not has_subscription(source):
        return [], "feature missing: Subscription.taskChanged is not in the schema"
    gobuild.binary("wsclient")
    plans = [(app_config(1, cache=True), run.fanout_subscribers, run.fanout_clients)]
    if run.workers > 1 and run.fanout_big_subscribers:
        plans.append((app_config(run.workers, cache=True), run.fanout_big_subscribers, run.fanout_big_clients))
    results = []
    for config, subscribers, clients in plans:
        print(f"  fan-out: {config.name}, {subscribers} subscribers ...", flush=True)
        server: Server | None = None
        try:
            server = start(config, source)
            result = await run_fanout(config, server, run, subscribers, clients)
        except RuntimeError as exc:
            result = FanoutResult(status="failed", note=str(exc)[:400], server=config.name, workers=config.workers,
                                  subscribers=subscribers)
        finally:
            if server is not None:
                server.stop()
            await database.remove_bench_tasks()
        print(f"    fan-out: {result.status} p99 {result.p99_ms:.1f} ms {result.note}", flush=True)
        results.append(result)
    return results, ""


def mixed_plan(run: RunConfig) -> list[tuple[ServerConfig, bool]]:
    """(server, with writes): the app with and without its writes, PostGraphile with its CRUD writes;
    one process each, then `workers` each."""
    plans = []
    for n in sorted({1, run.workers}):
        plans += [(app_config(n, cache=True), True), (app_config(n, cache=True), False), (postgraphile_config(n), True)]
    return plans


async def run_mixed_workload(source: Source, run: RunConfig) -> list[MixedResult]:
    gobuild.binary("openloop")
    members = auth.members()
    facts = await mixed.facts(members[0].user_id if members else database.user_ids()[0])
    return [await mixed.run_server(config, source, run, facts, with_writes=writes)
            for config, writes in mixed_plan(run)]


def run_seeding(source: Source, run: RunConfig) -> list[dict[str, Any]]:
    runs = []
    for i in range(run.seeding_rounds):
        print(f"  seeding {run.seeding_tasks:,} tasks, run {i + 1} ...", flush=True)
        try:
            measured = database.seed(source, run.data, tasks=run.seeding_tasks, log_name=f"seed-100k-{i}.log")
        except RuntimeError as exc:
            runs.append({"returncode": 1, "output": str(exc), "wall_s": 0, "cpu_s": 0, "max_rss_mb": 0, "summary": ""})
            break
        summary = next((ln for ln in measured.output.splitlines() if ln.startswith("seeded ")), "")
        runs.append({"returncode": measured.returncode, "output": measured.output[-500:], "wall_s": measured.wall_s,
                     "cpu_s": measured.cpu_s, "max_rss_mb": measured.max_rss / 2**20, "summary": summary})
        print(f"    {measured.wall_s:.1f} s: {summary}", flush=True)
    return runs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description="Taskboard benchmark suite (issue 8).")
    parser.add_argument("--quick", action="store_true", help="1 round, short windows (for iterating)")
    parser.add_argument("--source", default="HEAD", help="git revision to measure, or 'tree' for the working tree")
    parser.add_argument("--rounds", type=int, default=None, help="override the number of rounds")
    parser.add_argument("--skip", action="append", default=[], choices=["http", "mixed", "fanout", "seeding"],
                        help="leave a part out (repeatable)")
    parser.add_argument("--output", default=None, help="markdown file to write (default: RESULTS.md when full)")
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run = RunConfig.quick_run() if args.quick else RunConfig()
    if args.rounds:
        run = RunConfig(**{**run.__dict__, "rounds": args.rounds})
    (WORK_DIR / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    source = resolve(args.source)
    print(f"measuring {source.label}", flush=True)
    print("setting up: migrate, seed, analyze ...", flush=True)
    database.migrate(source)
    setup_seed = database.seed(source, run.data)
    await database.prepare_for_peers()
    user_ids = database.user_ids()
    pool = auth.setup(source, user_ids, max(run.fanout_subscribers, run.fanout_big_subscribers))
    print(f"  member tokens: {pool} (one per seeded user)" if pool else "  member tokens: none (cannot mint)", flush=True)
    exp = await database.expectations()
    counts = await database.data_set_counts()
    print(f"  data set: {counts}", flush=True)
    windows = [] if "http" in args.skip else await run_rounds(source, exp, run)
    mixed_results = [] if "mixed" in args.skip else await run_mixed_workload(source, run)
    fanout, fanout_note = ([], "skipped") if "fanout" in args.skip else await run_fanout_workload(source, run)
    seeding = [] if "seeding" in args.skip else run_seeding(source, run)
    elapsed = time.monotonic() - started
    raw = {"windows": [w.to_json() for w in windows], "fanout": [f.to_json() for f in fanout],
           "mixed": [m.to_json() for m in mixed_results],
           "seeding": seeding, "counts": counts, "source": source.label, "elapsed_s": elapsed,
           "setup_seed_s": setup_seed.wall_s}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (WORK_DIR / f"raw-{stamp}.json").write_text(json.dumps(raw, indent=1, default=str))
    markdown = environment.results_markdown(
        rows=report.summarize(windows), run=run, source=source, counts=counts, fanout=fanout, fanout_note=fanout_note,
        mixed=mixed_results, principals=pool,
        seeding=seeding, elapsed_s=elapsed, windows=windows,
    )
    default = BENCH_DIR / "RESULTS.md" if not args.quick else WORK_DIR / "RESULTS-quick.md"
    output = Path(os.environ.get("BENCH_CALLER_DIR", "."), args.output) if args.output else default
    with open(output, "w") as handle:
        handle.write(markdown)
    print(markdown)
    print(f"\nwrote {output} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
