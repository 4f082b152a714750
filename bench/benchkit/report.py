"""Medians over rounds, ratios to the peers, and the markdown of RESULTS.md."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchkit.config import RunConfig
from benchkit.fanout import FanoutResult
from benchkit.measure import Window

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
        rows.append(Row(workload, server, status, "; ".join(notes), len(ok), values))
    order = {name: i for i, name in enumerate(WORKLOADS)}
    return sorted(rows, key=lambda r: (order.get(r.workload, 99), keys.index((r.workload, r.server))))


def find(rows: Sequence[Row], workload: str, kind_prefix: str) -> Row | None:
    return next((r for r in rows if r.workload == workload and r.server.startswith(kind_prefix) and r.values), None)


def ratio(row: Row, rows: Sequence[Row], peer: str) -> str:
    if not row.values or row.server.startswith(peer):
        return ""
    other = find(rows, PEER_WORKLOAD.get(row.workload, row.workload), peer)
    if other is None or not other.values.get("rps"):
        return "n/a"
    return f"{row.values['rps'] / other.values['rps']:.2f}x"


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def main_table(rows: Sequence[Row]) -> str:
    head = ("| workload | server | req/s | p50 ms | p99 ms | server CPU ms/req | PG CPU ms/req | FerretDB CPU ms/req "
            "| SQL stmts/req | peak RSS MB | vs PostGraphile | vs floor |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        if not r.values:
            lines.append(f"| {r.workload} | {r.server} | {r.status}: {r.note} |" + " |" * 9)
            continue
        v = r.values
        lines.append(
            f"| {r.workload} | {r.server} | {_fmt(v['rps'], 0)} | {_fmt(v['p50_ms'])} | {_fmt(v['p99_ms'])} "
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


def fanout_table(result: FanoutResult | None, note: str) -> str:
    if result is None:
        return f"n/a ({note})"
    if result.status != "ok":
        return f"{result.status}: {result.note}"
    share = result.delivered / result.expected if result.expected else 0.0
    p99 = _fmt(result.p99_ms) if share >= 0.99 else f"unbounded ({100 * (1 - share):.1f}% never delivered)"
    lines = [
        "| subscribers | mutations | delivered | p50 ms | p99 ms | max ms | p99 from request sent ms "
        "| mutation p99 ms | server CPU % | server peak RSS MB | client CPU % |",
        "|" + "---|" * 11,
        f"| {result.subscribers} | {result.mutations} | {result.delivered:,} of {result.expected:,} "
        f"| {_fmt(result.p50_ms)} | {p99} | {_fmt(result.max_ms)} | {_fmt(result.p99_from_send_ms)} "
        f"| {_fmt(result.mutation_p99_ms)} | {_fmt(result.server_cpu_pct)} | {_fmt(result.peak_rss_mb, 0)} "
        f"| {_fmt(result.client_cpu_pct)} |",
    ]
    lines += [
        "",
        f"- Delivery rate: {result.deliveries_per_s:,.0f} per second from the first mutation to the last receipt "
        f"(the workload needs {result.subscribers / result.interval_s:,.0f} per second).",
        f"- Missing deliveries: {result.expected - result.delivered:,}; mutations no subscriber received at all "
        f"(lost before the fan-out, e.g. at publish): {result.lost_everywhere} of {result.mutations}; "
        f"server {'went quiet' if result.drained else 'still busy at the end of the 45 s drain'}.",
        f"- Client errors: {result.client_errors} {result.sample_errors[:2] if result.sample_errors else ''}",
    ]
    lines += [f"- Server log: {w}" for w in result.server_warnings]
    return "\n".join(lines)


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


def targets(rows: Sequence[Row], fanout: FanoutResult | None, seeding: Sequence[dict[str, Any]]) -> str:
    def ratio_of(workload: str) -> float | None:
        app = find(rows, workload, "app 1w")
        peer = find(rows, BOARD_UNCACHED, "PostGraphile")
        return app.values["rps"] / peer.values["rps"] if app and peer else None

    uncached, cached = ratio_of(BOARD_UNCACHED), ratio_of(BOARD_CACHED)
    ok_seeds = [r["wall_s"] for r in seeding if r["returncode"] == 0]
    seed_s = statistics.median(ok_seeds) if ok_seeds else None
    fan_ok = fanout is not None and fanout.status == "ok" and fanout.expected
    fan_share = fanout.delivered / fanout.expected if fan_ok else 0.0

    def verdict(met: bool | None) -> str:
        return "n/a" if met is None else ("met" if met else "**not met**")

    fan_p99 = fanout.p99_ms if fan_ok and fan_share >= 0.99 else None
    lines = [
        "| target | goal | now | verdict |", "|---|---|---|---|",
        f"| uncached board vs PostGraphile (1 worker) | >= 1.0x | {_opt(uncached, 'x')} "
        f"| {verdict(None if uncached is None else uncached >= 1.0)} |",
        f"| cached board vs PostGraphile (1 worker) | >= 3x | {_opt(cached, 'x')} "
        f"| {verdict(None if cached is None else cached >= 3.0)} |",
        f"| fan-out p99, 1,000 subscribers, one instance | <= 100 ms | "
        f"{_opt(fan_p99, ' ms') if fan_ok else 'n/a'}{'' if not fan_ok or fan_p99 is not None else ' (deliveries lost)'} "
        f"| {verdict(None if not fan_ok else (fan_p99 is not None and fan_p99 <= 100))} |",
        f"| fan-out server peak RSS | <= 250 MB | {_opt(fanout.peak_rss_mb if fan_ok else None, ' MB')} "
        f"| {verdict(None if not fan_ok else fanout.peak_rss_mb <= 250)} |",
        f"| seeding 100k tasks | <= 30 s | {_opt(seed_s, ' s')} | {verdict(None if seed_s is None else seed_s <= 30)} |",
    ]
    return "\n".join(lines)


def _opt(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:,.2f}{unit}"
