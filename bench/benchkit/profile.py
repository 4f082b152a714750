"""bench/run --profile [--cached | --create | --task | --mixed RATE]: where the app's CPU goes under load.

Starts the app (1 worker; cache off, or on with --cached) on the bench data set, drives the board with
wrk (or createTask, the task by id, or the mixed workload open-loop at RATE requests/s with the cache
on), records the worker with `py-spy record --format raw`, and prints the hottest functions (self and
inclusive) and packages. The raw stacks stay in bench/.work/ for flame graphs (e.g. speedscope or inferno).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchkit import auth, database, mixed
from benchkit.config import REPO_DIR, WORK_DIR, RunConfig
from benchkit.loadgen import run_wrk, write_body
from benchkit.servers import ServerConfig, app_config, start
from benchkit.source import resolve
from benchkit.workloads import board, create_task, single_task

PY_SPY = REPO_DIR / ".venv" / "bin" / "py-spy"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse_raw(text: str) -> list[tuple[list[str], int]]:
    """py-spy raw (collapsed) stacks: 'outer;...;inner count' per line, root first."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def frame_name(frame: str) -> str:
    """'func (path/to/module.py:12)' without the line, the path shortened to the package."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    return f"{match['func']} ({short_path(match['file'])})"


def short_path(path: str) -> str:
    for marker in ("site-packages/", "/src/", "python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.rsplit("/work/main/", 1)[-1]


def package_of(frame: str) -> str:
    match = _FRAME.match(frame)
    path = short_path(match["file"]) if match else frame
    if path.startswith("app/"):
        return "/".join(path.split("/")[:2])
    top = path.split("/", 1)[0]
    return top.removesuffix(".py") if "/" in path else f"stdlib {top.removesuffix('.py')}"


def tally(stacks: Iterable[tuple[list[str], int]]) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """Self samples per function, inclusive samples per function and per leaf package, and the total."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        total += count
        own[frame_name(frames[-1])] += count
        packages[package_of(frames[-1])] += count
        for name in {frame_name(f) for f in frames}:
            inclusive[name] += count
    return own, inclusive, packages, total


def table(title: str, counts: Counter[str], total: int, limit: int) -> list[str]:
    lines = [f"### {title}", "", "| % of samples | where |", "|---|---|"]
    lines += [f"| {100 * n / total:.1f} | `{name}` |" for name, n in counts.most_common(limit)]
    return lines + [""]


def report(stacks: list[tuple[list[str], int]], rps: float, which: str) -> str:
    own, inclusive, packages, total = tally(stacks)
    header = [
        f"# Profile: {which}, app 1 worker ({datetime.now(UTC):%Y-%m-%d %H:%M UTC})",
        "",
        f"py-spy, {total} on-CPU samples of the worker process; {rps:.0f} req/s of load while recording.",
        "",
    ]
    return "\n".join(
        header
        + table("Self time by package (leaf frame)", packages, total, 20)
        + table("Self time by function", own, total, 30)
        # Frames on (nearly) every stack are the event loop and server start-up: they say nothing.
        + table("Inclusive time by function", Counter({k: n for k, n in inclusive.items() if n < 0.97 * total}),
                total, 45)
    )


def record(pid: int, seconds: int, out: Path, nonblocking: bool = False) -> None:
    """py-spy for `seconds`; nonblocking: without pausing the process per sample (an open-loop workload near the
    worker's capacity would otherwise queue up behind the pauses), at the price of an occasional torn stack."""
    subprocess.run(
        [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250", "--format", "raw",
         "--output", str(out), *(["--nonblocking"] if nonblocking else [])],
        check=True, capture_output=True, timeout=seconds + 60,
    )


def worker_pid(pids: Sequence[int]) -> int:
    """The process that serves requests: for one worker, uvicorn serves in its main process."""
    return pids[0]


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run --profile")
    parser.add_argument("--source", default="HEAD")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--no-seed", action="store_true", help="reuse the bench data set as it is")
    parser.add_argument("--cached", action="store_true", help="profile the cached board (CACHE_ENABLED=true)")
    parser.add_argument("--no-assignee", action="store_true", help="profile board 1b (without the MongoDB assignee)")
    parser.add_argument("--create", action="store_true", help="profile createTask with 2 tags (cache on) instead")
    parser.add_argument("--task", action="store_true", help="profile the task by id (workload 3) instead of the board")
    parser.add_argument("--mixed", type=float, metavar="RATE",
                        help="profile the mixed workload (cache on, with writes) at RATE requests/s instead")
    args = parser.parse_args(argv)
    run = RunConfig()
    (WORK_DIR / "logs").mkdir(parents=True, exist_ok=True)
    source = resolve(args.source)
    if not args.no_seed:
        database.migrate(source)
        database.seed(source, run.data)
        await database.prepare_for_peers()
    ids = database.user_ids()
    auth.setup(source, ids, len(ids))
    config = app_config(1, cache=args.cached or args.create or bool(args.mixed))
    server = start(config, source)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    raw = WORK_DIR / f"profile-{stamp}.txt"
    if args.mixed:
        try:
            which, rps = await _mixed(config, server.pids, args.mixed, args.seconds, raw)
        finally:
            server.stop()
            await database.remove_bench_tasks()
        return _write(raw, rps, which, stamp)
    try:
        if args.create:
            body = write_body("profile-create", create_task("app", await database.expectations()).body)
        elif args.task:
            body = write_body("profile-task", single_task("app", await database.expectations()).body)
        else:
            body = write_body("profile-board", board("app", with_assignee=not args.no_assignee).body)
        run_wrk(config.url, body, seconds=3, threads=run.wrk_threads, connections=run.wrk_connections)
        recorder = threading.Thread(target=record, args=(worker_pid(server.pids), args.seconds, raw))
        recorder.start()
        result = run_wrk(config.url, body, seconds=args.seconds + 2, threads=run.wrk_threads,
                         connections=run.wrk_connections)
        recorder.join()
    finally:
        server.stop()
    shape = "task by id" if args.task else "board" + (" 1b (no assignee)" if args.no_assignee else "")
    which = "createTask (2 tags)" if args.create else ("cached " if args.cached else "uncached ") + shape
    return _write(raw, result.rps, which, stamp)


async def _mixed(config: ServerConfig, pids: Sequence[int], rate: float, seconds: int, raw: Path) -> tuple[str, float]:
    """The mixed workload at rate/2 (a warm cache), then one step at `rate` while py-spy records all but its first 3 s."""
    members = auth.members()
    f = await mixed.facts(members[0].user_id)
    reads = await mixed.prepared_reads(config, f, members)
    tag_ids = [t[0] for t in f.tags]
    # A step at half the rate first, unrecorded: the bench starts on an empty Redis, and a cold cache under the
    # profiler's pauses overloads the worker (the profile would show a queue, not the workload).
    await mixed.run_step(config, reads, members, tag_ids, rate / 2, RunConfig(), with_writes=True)
    run = RunConfig(mixed_warmup_s=3.0, mixed_duration_s=seconds + 1.0)
    recorder = threading.Timer(run.mixed_warmup_s, record, args=(worker_pid(pids), seconds, raw, True))
    recorder.start()
    step = await mixed.run_step(config, reads, members, tag_ids, rate, run, with_writes=True)
    recorder.join()
    lines = [f"mixed at {rate:g}/s: p50 {step.p50_ms:.1f} ms, p99 {step.p99_ms:.1f} ms, {step.errors} errors, "
             f"response hits {step.response_hit_pct or 0:.0f} %"]
    lines += [f"  {name}: {entry}" for name, entry in sorted(step.by_entry.items())]
    print("\n".join(lines), flush=True)
    return f"mixed workload at {rate:g} req/s (response hits {step.response_hit_pct or 0:.0f} %)", step.achieved_rps


def _write(raw: Path, rps: float, which: str, stamp: str) -> int:
    markdown = report(parse_raw(raw.read_text()), rps, which)
    out = WORK_DIR / f"profile-{stamp}.md"
    out.write_text(markdown)
    print(markdown)
    print(f"wrote {out} (raw stacks: {raw})")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
