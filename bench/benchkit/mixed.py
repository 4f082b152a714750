"""Workload 7, the mixed workload: 200 members, 10 read shapes (90 %) and 5 write shapes (10 %), open loop.

bench/openloop (Go) sends at a fixed arrival rate; the rate is doubled until a step fails (p99 over
250 ms, or any error), then bisected a few times between the last rate held and the first that failed.
The highest rate held is the result. Writes act on tasks each member created (inserted by the bench
before each step, titles 'bench-pool ...', old and COMPLETED, so that no checked first page shows them):
updates cycle over them, tag links are added and removed once each, soft deletes once each; creations make
new 'bench-mixed ...' tasks. Everything 'bench-...' is deleted after each server.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from benchkit import auth, database, gobuild
from benchkit.auth import Member
from benchkit.config import WORK_DIR, RunConfig
from benchkit.measure import metric_sums
from benchkit.mixed_shapes import (
    APP_ME, APP_TAGS, APP_USERS, ONCE, PG_TAGS, PG_TAGS_PLAIN, READS, STAND_INS, WRITES, Shape, app_add_tag,
    app_board, app_by_assignee, app_create, app_delete, app_remove_tag, app_search, app_stats, app_tag_filter,
    app_task, app_update, expect, pg_add_tag, pg_board, pg_by_assignee, pg_create, pg_delete, pg_remove_tag,
    pg_search, pg_stats, pg_tag_filter, pg_task, pg_update, task_ids,
)
from benchkit.procs import Server
from benchkit.servers import ServerConfig, start
from benchkit.source import Source

P99_LIMIT_MS = 250.0
STATUSES = ("TODO", "IN_PROGRESS", "COMPLETED")
TASK_SAMPLE = 200
MAX_RATE = 25_600


# ---------------------------------------------------------------- expectations


@dataclass(frozen=True)
class MixedFacts:
    """What the read shapes must answer, read from PostgreSQL and MongoDB before anything runs."""

    boards: dict[str, tuple[list[str], int]]  # status -> (first 50 ids, live total)
    second_pages: dict[str, list[str]]  # status -> ids 51..100
    by_assignee: list[str]  # member 0's first 50
    tags: list[tuple[str, str, int]]  # (id, name, live task count), by lower(name)
    tag_first: list[str]  # first 50 live tasks carrying tags[0], newest first
    tag_links: int  # links of tags[0] (any task)
    words: list[str]
    search_first: list[str]  # words[0]'s first 20
    priority_first: list[str]  # priority 1's first 20 live (PostGraphile's stand-in for search)
    tasks: list[str]  # live tasks the task-by-id shape cycles through
    task0: tuple[str, str, str]  # tasks[0]: id, title, status
    stats0: tuple[int, int, int]  # member 0: live assigned, completed, in progress
    user_ids: list[str]


LIVE_ORDER = "deleted_at IS NULL ORDER BY created_at DESC, id DESC"


async def facts(member0: str) -> MixedFacts:
    conn = await database.connect()
    try:
        async def ids(sql: str, *args: Any) -> list[str]:
            return [str(r["id"]) for r in await conn.fetch(sql, *args)]

        boards, pages = {}, {}
        for status in STATUSES:
            boards[status] = (await ids(f"SELECT id FROM tasks WHERE status = $1 AND {LIVE_ORDER} LIMIT 50", status),
                              await conn.fetchval("SELECT count(*) FROM tasks WHERE status = $1 AND deleted_at IS NULL",
                                                  status))
            pages[status] = await ids(f"SELECT id FROM tasks WHERE status = $1 AND {LIVE_ORDER} LIMIT 50 OFFSET 50",
                                      status)
        tags = [(str(r["id"]), r["name"], r["n"]) for r in await conn.fetch(
            "SELECT g.id, g.name, (SELECT count(*) FROM task_tags tt JOIN tasks t ON t.id = tt.task_id "
            "WHERE tt.tag_id = g.id AND t.deleted_at IS NULL) AS n FROM tags g ORDER BY lower(g.name), g.id")]
        words = [r["w"] for r in await conn.fetch(
            "SELECT w FROM tasks, regexp_split_to_table(lower(title), '[^a-z]+') w WHERE length(w) >= 5 "
            "GROUP BY w ORDER BY count(*) DESC, w LIMIT 5")]
        search_sql = (f"SELECT id FROM tasks WHERE (title ILIKE $1 OR description ILIKE $1) AND {LIVE_ORDER} LIMIT 20")
        tasks = await ids("SELECT id FROM tasks WHERE deleted_at IS NULL ORDER BY id LIMIT $1", TASK_SAMPLE)
        task0 = await conn.fetchrow("SELECT id, title, status FROM tasks WHERE id = $1::uuid", tasks[0])
        stats = await conn.fetchrow(
            "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'COMPLETED') AS c, "
            "count(*) FILTER (WHERE status = 'IN_PROGRESS') AS p FROM tasks WHERE assignee_id = $1 "
            "AND deleted_at IS NULL", member0)
        result = MixedFacts(
            boards=boards, second_pages=pages,
            by_assignee=await ids(f"SELECT id FROM tasks WHERE assignee_id = $1 AND {LIVE_ORDER} LIMIT 50", member0),
            tags=tags,
            tag_first=await ids(f"SELECT id FROM tasks t WHERE EXISTS (SELECT 1 FROM task_tags tt WHERE "
                                f"tt.task_id = t.id AND tt.tag_id = $1::uuid) AND {LIVE_ORDER} LIMIT 50", tags[0][0]),
            tag_links=await conn.fetchval("SELECT count(*) FROM task_tags WHERE tag_id = $1::uuid", tags[0][0]),
            words=words,
            search_first=await ids(search_sql, f"%{words[0]}%"),
            priority_first=await ids(f"SELECT id FROM tasks WHERE priority = 1 AND {LIVE_ORDER} LIMIT 20"),
            tasks=tasks, task0=(str(task0["id"]), task0["title"], task0["status"]),
            stats0=(stats["n"], stats["c"], stats["p"]),
            user_ids=database.user_ids(),
        )
    finally:
        await conn.close()
    return result


# ---------------------------------------------------------------- the write targets


@dataclass
class Pool:
    """Tasks created for one step, by member index: update targets, tag links to add and to remove, deletes."""

    own: list[tuple[str, int]] = field(default_factory=list)  # (task id, member index)
    add: list[tuple[str, int, str]] = field(default_factory=list)  # (task id, member index, tag id)
    remove: list[tuple[str, int, str]] = field(default_factory=list)
    delete: list[tuple[str, int]] = field(default_factory=list)


POOL_SQL = (
    "INSERT INTO tasks (id, title, status, priority, created_at, updated_at, creator_id) "
    "SELECT gen_random_uuid(), $1 || g, 'COMPLETED', 2, timestamptz '2001-01-01' + g * interval '1 second', now(), "
    "($2::text[])[1 + g % cardinality($2::text[])] FROM generate_series(0, $3 - 1) g RETURNING id, creator_id"
)


async def make_pool(members: list[Member], tag_ids: list[str], label: str, counts: dict[str, int]) -> Pool:
    """Insert the step's target tasks (creator: the member who writes them) and the links to remove."""
    index = {m.user_id: i for i, m in enumerate(members)}
    ids = [m.user_id for m in members]
    conn = await database.connect()
    pool = Pool()
    try:
        async def insert(kind: str, n: int) -> list[tuple[str, int]]:
            rows = await conn.fetch(POOL_SQL, f"bench-pool {label} {kind} ", ids, max(n, 1))
            return [(str(r["id"]), index[r["creator_id"]]) for r in rows]

        pool.own = await insert("own", len(members))
        pool.add = [(t, m, tag_ids[i % len(tag_ids)]) for i, (t, m) in enumerate(await insert("add", counts["add"]))]
        removes = await insert("remove", counts["remove"])
        pool.remove = [(t, m, tag_ids[i % len(tag_ids)]) for i, (t, m) in enumerate(removes)]
        await conn.executemany("INSERT INTO task_tags (task_id, tag_id) VALUES ($1::uuid, $2::uuid)",
                               [(t, g) for t, _, g in pool.remove])
        pool.delete = await insert("delete", counts["delete"])
    finally:
        await conn.close()
    return pool


# ---------------------------------------------------------------- shapes per server kind


@dataclass
class Plan:
    """Everything one server's steps send: read shapes, write shapes (over a pool), and their checks."""

    reads: list[Shape]
    writes: dict[str, tuple[float, list[tuple[int, dict[str, Any]]], Any]]  # name -> (weight, items, check)


def read_shapes(kind: str, f: MixedFacts, members: list[Member], cursors: dict[str, str]) -> list[Shape]:
    weights = dict(READS)
    who = [m.user_id for m in members]
    nodes = lambda *path: (lambda d: task_ids(_walk(d, path)))  # noqa: E731
    tag_names = [t[1] for t in f.tags]
    tag_ids = [t[0] for t in f.tags]
    total0 = f.boards[STATUSES[0]][1]
    if kind == "postgraphile":
        shapes = [
            Shape("board by status", 0, lambda i: pg_board(STATUSES[i % 3]),
                  expect(lambda d: (task_ids(d["allTasks"]["nodes"]), d["allTasks"]["totalCount"]),
                         (f.boards["TODO"][0], total0), "board")),
            Shape("board by assignee", 0, lambda i: pg_by_assignee(who[i]),
                  expect(nodes("allTasks", "nodes"), f.by_assignee, "assignee board")),
            Shape("tag filter", 0, lambda i: pg_tag_filter(tag_ids[i % len(tag_ids)]),
                  expect(lambda d: (len(d["tagByRowId"]["taskTagsByTagId"]["nodes"]),
                                    d["tagByRowId"]["taskTagsByTagId"]["totalCount"]),
                         (min(50, f.tag_links), f.tag_links), "tag links")),
            Shape("search", 0, lambda i: pg_search(1 + i % 3),
                  expect(nodes("allTasks", "nodes"), f.priority_first, "priority list")),
            Shape("next page (cursor)", 0, lambda i: pg_board(STATUSES[i % 3], cursors[STATUSES[i % 3]]),
                  expect(nodes("allTasks", "nodes"), f.second_pages["TODO"], "second page")),
            Shape("task by id", 0, lambda i: pg_task(f.tasks[i % len(f.tasks)]),
                  expect(lambda d: (d["taskByRowId"]["rowId"], d["taskByRowId"]["title"]), f.task0[:2], "task")),
            Shape("me", 0, lambda i: PG_TAGS_PLAIN,
                  expect(lambda d: sorted(n["name"] for n in d["allTags"]["nodes"]), sorted(tag_names), "tags")),
            Shape("users list", 0, lambda i: PG_TAGS_PLAIN,
                  expect(lambda d: len(d["allTags"]["nodes"]), len(tag_names), "tags")),
            Shape("user stats", 0, lambda i: pg_stats(who[i]),
                  expect(lambda d: (d["all"]["totalCount"], d["completed"]["totalCount"],
                                    d["inProgress"]["totalCount"]), f.stats0, "stats")),
            Shape("tags with counts", 0, lambda i: PG_TAGS,
                  expect(lambda d: sorted(n["name"] for n in d["allTags"]["nodes"]), sorted(tag_names), "tags")),
        ]
    else:
        shapes = [
            Shape("board by status", 0, lambda i: app_board(STATUSES[i % 3]),
                  expect(lambda d: (task_ids(d["tasks"]["nodes"]), d["tasks"]["totalCount"]),
                         (f.boards["TODO"][0], total0), "board")),
            Shape("board by assignee", 0, lambda i: app_by_assignee(who[i]),
                  expect(nodes("tasks", "nodes"), f.by_assignee, "assignee board")),
            Shape("tag filter", 0, lambda i: app_tag_filter(tag_names[i % len(tag_names)]),
                  expect(nodes("tasks", "nodes"), f.tag_first, "tag filter")),
            Shape("search", 0, lambda i: app_search(f.words[i % len(f.words)]),
                  expect(nodes("tasks", "nodes"), f.search_first, "search")),
            Shape("next page (cursor)", 0, lambda i: app_board(STATUSES[i % 3], cursors[STATUSES[i % 3]]),
                  expect(nodes("tasks", "nodes"), f.second_pages["TODO"], "second page")),
            Shape("task by id", 0, lambda i: app_task(f.tasks[i % len(f.tasks)]),
                  expect(lambda d: (d["task"]["id"], d["task"]["title"], d["task"]["status"]), f.task0, "task")),
            Shape("me", 0, lambda i: APP_ME, expect(lambda d: d["me"]["id"], who[0], "me")),
            Shape("users list", 0, lambda i: APP_USERS,
                  expect(lambda d: (len(d["users"]["nodes"]), all(n["id"] in f.user_ids for n in d["users"]["nodes"])),
                         (min(50, len(f.user_ids)), True), "users")),
            Shape("user stats", 0, lambda i: app_stats(who[i]),
                  expect(lambda d: tuple(d["userStats"][0][k] for k in ("taskCount", "completedCount", "inProgressCount"))
                         if d["userStats"] else (0, 0, 0), f.stats0, "stats")),
            Shape("tags with counts", 0, lambda i: APP_TAGS,
                  expect(lambda d: sorted((t["tag"]["name"], t["taskCount"]) for t in d["tags"]),
                         sorted((t[1], t[2]) for t in f.tags), "tags")),
        ]
    return [Shape(s.name, weights[s.name], s.body, s.check) for s in shapes]


def _walk(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def write_items(kind: str, pool: Pool, members: list[Member], tag_ids: list[str]) -> dict[str, list[tuple[int, dict]]]:
    """Per write shape: (member index, body) items; the once shapes use each of their items at most once."""
    now = datetime.now(UTC).isoformat()
    two_tags = tag_ids[:2]
    if kind == "postgraphile":
        return {
            "createTask (2 tags)": [(i, pg_create(m.user_id)) for i, m in enumerate(members)],
            "updateTask": [(m, pg_update(t, "HIGH" if n % 2 else "LOW")) for n, (t, m) in enumerate(pool.own)],
            "addTaskTags": [(m, pg_add_tag(t, g)) for t, m, g in pool.add],
            "removeTaskTags": [(m, pg_remove_tag(t, g)) for t, m, g in pool.remove],
            "deleteTask (soft)": [(m, pg_delete(t, now)) for t, m in pool.delete],
        }
    return {
        "createTask (2 tags)": [(i, app_create(two_tags)) for i in range(len(members))],
        "updateTask": [(m, app_update(t, "HIGH" if n % 2 else "LOW")) for n, (t, m) in enumerate(pool.own)],
        "addTaskTags": [(m, app_add_tag(t, g)) for t, m, g in pool.add],
        "removeTaskTags": [(m, app_remove_tag(t, g)) for t, m, g in pool.remove],
        "deleteTask (soft)": [(m, app_delete(t)) for t, m in pool.delete],
    }


def write_check(kind: str, name: str) -> Any:
    """What a write's answer must hold (the data the mutation returns)."""
    pg = kind == "postgraphile"
    root = {"createTask (2 tags)": "createTask", "updateTask": "updateTaskByRowId" if pg else "updateTask",
            "addTaskTags": "createTaskTag" if pg else "addTaskTags",
            "removeTaskTags": "deleteTaskTagByTaskIdAndTagId" if pg else "removeTaskTags",
            "deleteTask (soft)": "updateTaskByRowId" if pg else "deleteTask"}[name]
    return expect(lambda d: d[root] is not None, True, name)


# ---------------------------------------------------------------- one server


@dataclass
class Step:
    rate: float
    held: bool
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: int = 0
    sent: int = 0
    achieved_rps: float = 0.0
    send_lag_p99_ms: float = 0.0
    generator_cpu_pct: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    by_entry: dict[str, Any] = field(default_factory=dict)
    # App only: whole-response cache lookups during the step (warm-up included) that were served from Redis.
    response_hit_pct: float | None = None


@dataclass
class MixedResult:
    server: str
    kind: str
    processes: int
    writes: bool
    principals: int
    status: str = "ok"
    note: str = ""
    steps: list[Step] = field(default_factory=list)

    @property
    def held(self) -> Step | None:
        held = [s for s in self.steps if s.held]
        return max(held, key=lambda s: s.rate) if held else None

    @property
    def first_failed(self) -> Step | None:
        failed = [s for s in self.steps if not s.held]
        return min(failed, key=lambda s: s.rate) if failed else None

    @property
    def label(self) -> str:
        return f"{self.server}, {'90 % reads + 10 % writes' if self.writes else 'reads only'}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "held_rate": self.held.rate if self.held else 0}


def _entries(reads: list[Shape], writes: dict[str, list[tuple[int, dict]]], members: list[Member],
             with_writes: bool) -> list[dict[str, Any]]:
    def item(index: int, body: dict[str, Any]) -> dict[str, Any]:
        member = members[index % len(members)] if members else None
        return {"headers": {"Authorization": member.authorization} if member else {},
                "body": json.dumps(body, separators=(",", ":"))}

    entries = [{"name": s.name, "weight": s.weight, "once": False,
                "items": [item(i, s.body(i)) for i in range(max(1, len(members)))]} for s in reads]
    if with_writes:
        weights = dict(WRITES)
        entries += [{"name": name, "weight": weights[name], "once": name in ONCE,
                     "items": [item(i, body) for i, body in items]} for name, items in writes.items()]
    return entries


def _post(url: str, body: dict[str, Any], member: Member | None) -> dict[str, Any]:
    headers = member.headers() if member else {"accept": "application/json"}
    return httpx.post(url, json=json.loads(json.dumps(body).replace("__SEQ__", "check").replace(
        "__UUID__", _uuid())), headers=headers, timeout=30).json()


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _cursors(config: ServerConfig, kind: str, member: Member | None) -> dict[str, str]:
    """Each status board's first-page endCursor, as this server spells cursors."""
    found = {}
    for status in STATUSES:
        response = _post(config.url, (pg_board if kind == "postgraphile" else app_board)(status), member)
        root = response.get("data", {}).get("allTasks" if kind == "postgraphile" else "tasks") or {}
        cursor = (root.get("pageInfo") or {}).get("endCursor")
        if not cursor:
            raise RuntimeError(f"no endCursor for the {status} board: {str(response)[:300]}")
        found[status] = cursor
    return found


def _counts(rate: float, run: RunConfig) -> dict[str, int]:
    weights = dict(WRITES)
    total = sum(w for _, w in READS) + sum(weights.values())
    seconds = run.mixed_warmup_s + run.mixed_duration_s + 1
    need = lambda name: math.ceil(rate * seconds * weights[name] / total * 1.3) + 20  # noqa: E731
    return {"add": need("addTaskTags"), "remove": need("removeTaskTags"), "delete": need("deleteTask (soft)")}


def _run_generator(config: ServerConfig, entries: list[dict[str, Any]], rate: float, run: RunConfig, label: str,
                   *, check: bool = False) -> dict[str, Any]:
    path = WORK_DIR / "mixed" / f"{label}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = {"url": config.url, "rate": rate, "warmup_s": run.mixed_warmup_s, "duration_s": run.mixed_duration_s,
            "timeout_s": 5, "max_conns": 256, "seed": 8, "tag": label, "entries": entries}
    path.write_text(json.dumps(spec))
    out = path.with_suffix(".out.json")
    cmd = [str(gobuild.binary("openloop")), "-config", str(path), "-out", str(out)] + (["-check"] if check else [])
    timeout = 300 if check else run.mixed_warmup_s + run.mixed_duration_s + 60
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openloop failed (exit {result.returncode}): {result.stderr[-1000:]}")
    return json.loads(out.read_text())


async def _check(config: ServerConfig, kind: str, reads: list[Shape], members: list[Member], f: MixedFacts,
                 tag_ids: list[str], run: RunConfig, with_writes: bool) -> str | None:
    """Every shape's answer against the stores (member 0's request), then every item once (openloop -check)."""
    member0 = members[0] if members else None
    for shape in reads:
        if problem := shape.check(_post(config.url, shape.body(0), member0)):
            return f"{shape.name}: {problem}"
    writes: dict[str, list[tuple[int, dict]]] = {}
    if with_writes:
        pool = await make_pool(members, tag_ids, "check", {"add": 1, "remove": 1, "delete": 1})
        writes = write_items(kind, pool, members, tag_ids)
        for name, items in writes.items():
            index, body = items[0]
            if problem := write_check(kind, name)(_post(config.url, body, members[index] if members else None)):
                return f"{name}: {problem}"
        writes = {name: items for name, items in writes.items() if name not in ONCE}
    checked = _run_generator(config, _entries(reads, writes, members, with_writes), 1, run, f"{config.name}-check",
                             check=True)
    if checked["errors"]:
        return f"openloop -check: {checked['errors']} {checked['samples'][:2]}"
    return None


RESPONSE_COUNTERS = ("taskboard_cache_response_hits", "taskboard_cache_response_misses")


def _response_counts(config: ServerConfig) -> tuple[float, float] | None:
    """The app's running whole-response cache hits and misses, from /metrics (None for the peers)."""
    if config.kind != "app":
        return None
    samples = metric_sums(httpx.get(config.url.removesuffix("/graphql") + "/metrics", timeout=10).text, RESPONSE_COUNTERS)
    hits, misses = (sum(v for k, v in samples.items() if k.split("{")[0] == name) for name in RESPONSE_COUNTERS)
    return hits, misses


def _hit_pct(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float | None:
    if before is None or after is None:
        return None
    hits, misses = after[0] - before[0], after[1] - before[1]
    return 100 * hits / (hits + misses) if hits + misses > 0 else None


def _step(raw: dict[str, Any], rate: float, run: RunConfig) -> Step:
    window = run.mixed_warmup_s + run.mixed_duration_s
    step = Step(
        rate=rate, held=False, p50_ms=raw["p50_ms"], p90_ms=raw["p90_ms"], p99_ms=raw["p99_ms"], max_ms=raw["max_ms"],
        errors=raw["errors"], sent=raw["sent"], achieved_rps=raw["achieved_rps"],
        send_lag_p99_ms=raw["send_lag_p99_ms"], generator_cpu_pct=100 * raw["generator_cpu_s"] / window,
        error_samples=raw.get("error_samples") or [], by_entry=raw["by_entry"],
    )
    step.held = step.errors == 0 and step.sent > 0 and step.p99_ms <= P99_LIMIT_MS
    return step


def rates(run: RunConfig) -> Any:
    """Doubling from the start rate until a step fails, then `mixed_refine` bisections (a generator)."""
    held, failed = 0.0, None
    rate = run.mixed_start_rate
    while failed is None and rate <= MAX_RATE:
        ok = yield rate
        if ok:
            held, rate = rate, rate * 2
        else:
            failed = rate
    for _ in range(run.mixed_refine if failed else 0):
        rate = round((held + failed) / 2 / 10) * 10 if held else round(failed / 2 / 10) * 10
        if rate in (held, failed) or rate <= 0:
            break
        ok = yield rate
        held, failed = (rate, failed) if ok else (held, rate)


async def run_step(config: ServerConfig, reads: list[Shape], members: list[Member], tag_ids: list[str], rate: float,
                   run: RunConfig, *, with_writes: bool) -> Step:
    """One open-loop step at `rate`: a fresh write pool, the generator, the step's verdict and hit rate."""
    writes = {}
    if with_writes:
        pool = await make_pool(members, tag_ids, f"r{rate:g}", _counts(rate, run))
        writes = write_items(config.kind, pool, members, tag_ids)
    before = _response_counts(config)
    raw = _run_generator(config, _entries(reads, writes, members, with_writes), rate, run,
                         f"{config.name}-{'mixed' if with_writes else 'reads'}-{rate:g}".replace(" ", "-"))
    if before is not None:
        time.sleep(1.2)  # each worker copies its cache counters into /metrics once a second
    step = _step(raw, rate, run)
    step.response_hit_pct = _hit_pct(before, _response_counts(config))
    return step


async def prepared_reads(config: ServerConfig, f: MixedFacts, members: list[Member]) -> list[Shape]:
    """The read shapes as this server spells them (its own first-page cursors for the next pages)."""
    return read_shapes(config.kind, f, members, _cursors(config, config.kind, members[0] if members else None))


async def run_server(config: ServerConfig, source: Source, run: RunConfig, f: MixedFacts,
                     *, with_writes: bool) -> MixedResult:
    members = auth.members()
    kind = config.kind
    result = MixedResult(server=config.name, kind=kind, processes=config.workers, writes=with_writes,
                         principals=len(members) if kind == "app" else 0)
    tag_ids = [t[0] for t in f.tags]
    print(f"  mixed: {result.label} ...", flush=True)
    server: Server | None = None
    try:
        server = start(config, source)
        reads = await prepared_reads(config, f, members)
        if problem := await _check(config, kind, reads, members, f, tag_ids, run, with_writes):
            result.status, result.note = "failed", f"wrong answer: {problem}"[:500]
            return result
        schedule = rates(run)
        rate = next(schedule)
        while True:
            step = await run_step(config, reads, members, tag_ids, rate, run, with_writes=with_writes)
            result.steps.append(step)
            print(f"    {rate:g}/s: {'held' if step.held else 'FAILED'} p99 {step.p99_ms:.1f} ms, "
                  f"{step.errors} errors, achieved {step.achieved_rps:.0f}/s", flush=True)
            try:
                rate = schedule.send(step.held)
            except StopIteration:
                break
    except (RuntimeError, subprocess.TimeoutExpired, httpx.HTTPError, asyncpg.PostgresError) as exc:
        result.status, result.note = "failed", f"{type(exc).__name__}: {exc}"[:500]
    finally:
        if server is not None:
            server.stop()
        await database.remove_bench_tasks()
    return result


def stand_ins() -> dict[str, str]:
    return dict(STAND_INS)
