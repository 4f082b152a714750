"""Medians over rounds, ratios to the peers, and the markdown of RESULTS.md."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchkit.config import RunConfig
from benchkit.fanout import FanoutResult
from benchkit.measure import Window
from benchkit.mixed import MixedResult

BOARD_UNCACHED = "1 board, uncached"
BOARD_NO_ASSIGNEE = "1b board, uncached, no assignee"
BOARD_CACHED = "2 board, cached"
SINGLE_TASK = "3 task by id"
CREATE_TASK = "4 createTask (2 tags)"
WORKLOADS = (BOARD_UNCACHED, BOARD_NO_ASSIGNEE, BOARD_CACHED, SINGLE_TASK, CREATE_TASK)
# Which peer row an app row is compared with: the peers have no cache, so the cached board meets their board.
PEER_WORKLOAD = {BOARD_UNCACHED: BOARD_UNCACHED, BOARD_NO_ASSIGNEE: BOARD_UNCACHED, BOARD_CACHED: BOARD_UNCACHED, SINGLE_TASK: SINGLE_TASK,
                 CREATE_TASK: CREATE_TASK}
NUMERIC = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "pg_cpu_ms_per_req", "mongo_cpu_ms_per_req", "sql_per_req",
           "peak_rss_mb", "wrk_cpu_pct", "machine_busy_pct")


@dataclass(frozen=True)
class Row:
    workload: str
    server: str
    status: str
    note: str
    rounds: int
    values: dict[str, float]
    processes: int = 1
    principals: int = 0


def summarize(windows: Sequence[Window]) -> list[Row]:
    """One row per (workload, server): medians over the rounds that measured ok."""
    keys: list[tuple[str, str]] = []
    for w in windows:
        if (w.workload, w.server) not in keys:
            keys.append((w.workload, w.server))
    rows = []
    for workload, server in keys:
        group = [w for w in windows if (w.workload, w.server) == (workload, server)]
        ok = [w for w in group if w.status == "ok"]
        source = ok or group
        values = {name: statistics.median(getattr(w, name) for w in ok) for name in NUMERIC} if ok else {}
        notes = sorted({w.note for w in group if w.note})
        status = "ok" if len(ok) == len(group) else ("partly" if ok else source[0].status)
        rows.append(Row(workload, server, status, "; ".join(notes), len(ok), values, group[0].processes,
                        group[0].principals))
    order = {name: i for i, name in enumerate(WORKLOADS)}
    return sorted(rows, key=lambda r: (order.get(r.workload, 99), keys.index((r.workload, r.server))))


def find(rows: Sequence[Row], workload: str, kind_prefix: str, processes: int = 1) -> Row | None:
    return next((r for r in rows if r.workload == workload and r.server.startswith(kind_prefix) and r.values
                 and r.processes == processes), None)


def ratio(row: Row, rows: Sequence[Row], peer: str) -> str:
    """This row's req/s over the peer's on the same workload with the same number of processes."""
    if not row.values or row.server.startswith(peer):
        return ""
    other = find(rows, PEER_WORKLOAD.get(row.workload, row.workload), peer, row.processes)
    if other is None or not other.values.get("rps"):
        return "n/a"
    return f"{row.values['rps'] / other.values['rps']:.2f}x"


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _pct(step: Any) -> str:
    return "" if step.response_hit_pct is None else f"{step.response_hit_pct:.0f} %"


def main_table(rows: Sequence[Row]) -> str:
    head = ("| workload | server | processes | principals | req/s | p50 ms | p99 ms | server CPU ms/req | PG CPU ms/req "
            "| FerretDB CPU ms/req | SQL stmts/req | peak RSS MB | vs PostGraphile | vs floor |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        who = f"{r.processes} | {r.principals or 'n/a'}"
        if not r.values:
            lines.append(f"| {r.workload} | {r.server} | {who} | {r.status}: {r.note} |" + " |" * 9)
            continue
        v = r.values
        lines.append(
            f"| {r.workload} | {r.server} | {who} | {_fmt(v['rps'], 0)} | {_fmt(v['p50_ms'])} | {_fmt(v['p99_ms'])} "
            f"| {_fmt(v['cpu_ms_per_req'], 2)} | {_fmt(v['pg_cpu_ms_per_req'], 2)} "
            f"| {_fmt(v['mongo_cpu_ms_per_req'], 2)} | {_fmt(v['sql_per_req'], 2)} "
            f"| {_fmt(v['peak_rss_mb'], 0)} | {ratio(r, rows, 'PostGraphile')} | {ratio(r, rows, 'floor')} |"
        )
    notes = [f"- {r.workload} / {r.server}: {r.status} ({r.rounds} ok round(s)): {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def load_table(rows: Sequence[Row], run: RunConfig) -> str:
    lines = [
        f"Load generator: wrk, {run.wrk_threads} thread(s), {run.wrk_connections} connections, "
        f"{run.warmup_s:g} s warm-up then {run.duration_s:g} s timed, medians of {run.rounds} round(s).",
        "",
        "| workload | server | wrk CPU % of one core | machine busy % (2 cores) |",
        "|---|---|---|---|",
    ]
    for r in rows:
        if r.values:
            lines.append(f"| {r.workload} | {r.server} | {_fmt(r.values['wrk_cpu_pct'])} "
                         f"| {_fmt(r.values['machine_busy_pct'])} |")
    return "\n".join(lines)


def _fanout_p99(result: FanoutResult) -> float | None:
    """The p99, or None when more than 1 % of the deliveries never arrived (then it is unbounded)."""
    share = result.delivered / result.expected if result.expected else 0.0
    return result.p99_ms if result.status == "ok" and share >= 0.99 else None


def fanout_table(results: Sequence[FanoutResult], note: str) -> str:
    if not results:
        return f"n/a ({note})"
    lines = [
        "| server | workers | subscribers (principals) | mutations | delivered | lost | p50 ms | p99 ms | max ms "
        "| p99 from request sent ms | mutation p99 ms | server CPU % | server peak RSS MB | client CPU % |",
        "|" + "---|" * 14,
    ]
    notes = []
    for r in results:
        head = f"| {r.server} | {r.workers} | {r.subscribers:,} ({r.principals:,})"
        if r.status != "ok":
            lines.append(f"{head} | {r.status}: {r.note} |" + " |" * 10)
            continue
        p99 = _fanout_p99(r)
        shown = _fmt(p99) if p99 is not None else f"unbounded ({100 * (1 - r.delivered / r.expected):.1f}% never delivered)"
        lines.append(
            f"{head} | {r.mutations} | {r.delivered:,} of {r.expected:,} | {r.expected - r.delivered:,} "
            f"| {_fmt(r.p50_ms)} | {shown} | {_fmt(r.max_ms)} | {_fmt(r.p99_from_send_ms)} "
            f"| {_fmt(r.mutation_p99_ms)} | {_fmt(r.server_cpu_pct)} | {_fmt(r.peak_rss_mb, 0)} | {_fmt(r.client_cpu_pct)} |"
        )
        notes += [
            f"- {r.subscribers:,} subscribers: delivery rate {r.deliveries_per_s:,.0f} per second from the first mutation "
            f"to the last receipt (the workload needs {r.subscribers / r.interval_s:,.0f}); mutations no subscriber "
            f"received at all: {r.lost_everywhere} of {r.mutations}; server "
            f"{'went quiet' if r.drained else 'still busy at the end of the 45 s drain'}; client errors: "
            f"{r.client_errors} {r.sample_errors[:2] if r.sample_errors else ''}",
        ]
        notes += [f"  - server log: {w}" for w in r.server_warnings]
    return "\n".join(lines + [""] + notes)


def mixed_table(results: Sequence[MixedResult]) -> str:
    """Highest arrival rate held per server, the ratios within a process count, and every step tried."""
    if not results:
        return "not run"
    lines = [
        "| server | processes | principals | requests | highest rate held (p99 <= 250 ms, 0 errors) | p50 ms "
        "| p99 ms | achieved req/s | response cache hits % | first rate not held | generator CPU % | vs PostGraphile |",
        "|" + "---|" * 12,
    ]
    for r in results:
        head = (f"| {r.server} | {r.processes} | {r.principals or 'n/a'} "
                f"| {'90 % reads + 10 % writes' if r.writes else 'reads only'}")
        if r.status != "ok" or not r.steps:
            lines.append(f"{head} | {r.status}: {r.note} |" + " |" * 7)
            continue
        held, failed = r.held, r.first_failed
        peer = next((p for p in results if p.kind == "postgraphile" and p.processes == r.processes and p.held), None)
        vs = (f"{held.rate / peer.held.rate:.2f}x" if held and peer and r.kind == "app" and r.writes else "")
        why = ""
        if failed:
            why = f"{failed.rate:,.0f}/s (p99 {_fmt(failed.p99_ms)} ms, {failed.errors} errors)"
        lines.append(
            f"{head} | {f'{held.rate:,.0f}/s' if held else f'none (below {r.steps[0].rate:,.0f}/s)'} "
            f"| {_fmt(held.p50_ms) if held else ''} | {_fmt(held.p99_ms) if held else ''} "
            f"| {_fmt(held.achieved_rps, 0) if held else ''} | {_pct(held) if held else ''} "
            f"| {why or 'none up to the cap'} "
            f"| {_fmt(held.generator_cpu_pct) if held else ''} | {vs} |"
        )
    lines.append("")
    for n in sorted({r.processes for r in results}):
        both = [r for r in results if r.kind == "app" and r.processes == n and r.held]
        mix = next((r for r in both if r.writes), None)
        reads = next((r for r in both if not r.writes), None)
        if mix and reads:
            lines.append(f"- App, {n} process(es): highest rate with 10 % writes / reads only = {mix.held.rate:,.0f} / "
                         f"{reads.held.rate:,.0f} = {mix.held.rate / reads.held.rate:.2f} (goal >= 0.5)")
    lines.append("- Response cache hits: share of the app's whole-response lookups served from Redis during the "
                 "step, warm-up included (`taskboard_cache_response_hits` / `_misses` from /metrics).")
    lines.append("- Steps tried (rate: p99 ms, errors[, response cache hits %]; + held, - not held):")
    for r in results:
        steps = ", ".join(f"{s.rate:,.0f} {'+' if s.held else '-'} ({_fmt(s.p99_ms, 0)}, {s.errors}"
                          f"{', ' + _pct(s) if s.response_hit_pct is not None else ''})"
                          for s in sorted(r.steps, key=lambda s: s.rate))
        lines.append(f"  - {r.label}: {steps or r.note}")
        failed = r.first_failed
        if failed and failed.error_samples:
            lines.append(f"    - errors at {failed.rate:,.0f}/s: {failed.error_samples[:2]}")
    worst = _slowest_shapes(results)
    if worst:
        lines.append(f"- Slowest shapes at the highest rate held (p99 ms): {worst}")
    return "\n".join(lines)


def _slowest_shapes(results: Sequence[MixedResult]) -> str:
    parts = []
    for r in results:
        if r.held and r.held.by_entry:
            top = sorted(r.held.by_entry.items(), key=lambda kv: -kv[1]["p99_ms"])[:3]
            parts.append(f"{r.label}: " + ", ".join(f"{name} {_fmt(v['p99_ms'])}" for name, v in top))
    return "; ".join(parts)


def seeding_table(runs: Sequence[dict[str, Any]], tasks: int) -> str:
    if not runs:
        return "not run"
    ok = [r for r in runs if r["returncode"] == 0]
    if not ok:
        return f"failed: {runs[0]['output'][-500:]}"
    med = {k: statistics.median(r[k] for r in ok) for k in ("wall_s", "cpu_s", "max_rss_mb")}
    return "\n".join([
        "| tasks | runs | wall s (median) | seeder CPU s | seeder peak RSS MB | seeder's own line |",
        "|---|---|---|---|---|---|",
        f"| {tasks:,} | {len(ok)} | {_fmt(med['wall_s'])} | {_fmt(med['cpu_s'])} | {_fmt(med['max_rss_mb'], 0)} "
        f"| {ok[-1]['summary']} |",
    ])


def targets(rows: Sequence[Row], fanout: Sequence[FanoutResult], seeding: Sequence[dict[str, Any]],
            mixed: Sequence[MixedResult]) -> str:
    """The issues' goals, each a ratio within one process count (or an absolute figure)."""
    def ratio_of(workload: str, app: str, peer_workload: str, processes: int) -> float | None:
        row = find(rows, workload, app, processes)
        peer = find(rows, peer_workload, "PostGraphile", processes)
        return row.values["rps"] / peer.values["rps"] if row and peer and peer.values["rps"] else None

    def verdict(met: bool | None) -> str:
        return "n/a" if met is None else ("met" if met else "**not met**")

    def line(target: str, goal: str, value: float | None, unit: str, met: bool | None) -> str:
        return f"| {target} | {goal} | {_opt(value, unit)} | {verdict(met)} |"

    lines = ["| target | goal | now | verdict |", "|---|---|---|---|"]
    for n in sorted({r.processes for r in rows}):
        like = ratio_of(BOARD_NO_ASSIGNEE, f"app {n}w", BOARD_UNCACHED, n)
        lines.append(line(f"uncached board like for like (1b) vs PostGraphile, {n} process(es) each", ">= 1.0x",
                          like, "x", None if like is None else like >= 1.0))
    cached = ratio_of(BOARD_CACHED, "app 1w", BOARD_UNCACHED, 1)
    lines.append(line("cached board vs PostGraphile, limiter on, 1 process each", ">= 3x", cached, "x",
                      None if cached is None else cached >= 3.0))
    task = ratio_of(SINGLE_TASK, "app 1w cache on", SINGLE_TASK, 1)
    lines.append(line("cached task by id vs PostGraphile, 1 process each", ">= 1.0x", task, "x",
                      None if task is None else task >= 1.0))
    create = find(rows, CREATE_TASK, "app 1w")
    cpu = create.values["cpu_ms_per_req"] if create else None
    lines.append(line("createTask (2 tags) server CPU", "<= 1.5 ms/req", cpu, " ms", None if cpu is None else cpu <= 1.5))
    for n in sorted({m.processes for m in mixed}):
        app = next((m for m in mixed if m.kind == "app" and m.writes and m.processes == n), None)
        reads = next((m for m in mixed if m.kind == "app" and not m.writes and m.processes == n), None)
        peer = next((m for m in mixed if m.kind == "postgraphile" and m.processes == n), None)
        held = lambda m: m.held.rate if m and m.held else None  # noqa: E731
        vs = held(app) / held(peer) if held(app) and held(peer) else None
        lines.append(line(f"mixed workload, highest rate held vs PostGraphile, {n} process(es) each", ">= 1.0x", vs,
                          "x", None if vs is None else vs >= 1.0))
        share = held(app) / held(reads) if held(app) and held(reads) else None
        lines.append(line(f"mixed workload, app with 10 % writes / reads only, {n} process(es)", ">= 0.5", share, "",
                          None if share is None else share >= 0.5))
    for r, limit in zip(fanout, (100, 250), strict=False):
        p99 = _fanout_p99(r)
        lost = r.expected - r.delivered if r.status == "ok" else None
        what = f"fan-out, {r.subscribers:,} distinct members, {r.workers} worker(s)"
        lines.append(line(f"{what}: p99", f"<= {limit} ms", p99, " ms", None if r.status != "ok" else
                          (p99 is not None and p99 <= limit)))
        lines.append(line(f"{what}: lost deliveries", "0", lost, "", None if lost is None else lost == 0))
        if r.workers == 1:
            lines.append(line(f"{what}: server peak RSS", "<= 250 MB", r.peak_rss_mb if r.status == "ok" else None,
                              " MB", None if r.status != "ok" else r.peak_rss_mb <= 250))
    ok_seeds = [r["wall_s"] for r in seeding if r["returncode"] == 0]
    seed_s = statistics.median(ok_seeds) if ok_seeds else None
    lines.append(line("seeding 100k tasks", "<= 30 s", seed_s, " s", None if seed_s is None else seed_s <= 30))
    return "\n".join(lines)


def _opt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value:,.2f}{unit}"
