"""Prometheus metrics on prometheus-client, and the /metrics endpoint (text exposition format 0.0.4).

Two modes, chosen by prometheus-client when it is imported:
- single-process (the app embedded in tests, `taskboard serve` with one worker): the default registry, with
  the standard process, platform and GC collectors;
- multiprocess (PROMETHEUS_MULTIPROC_DIR set by `taskboard serve` before its workers start, see
  app.metrics_supervisor): every value is an mmap write to this worker's file and any worker's scrape merges
  every worker's files, so one scrape reports the whole server.

Values a process only knows as state (cache and events counters, open WebSockets, its own CPU and memory)
are copied into gauges every SYNC_INTERVAL_S, and at once by the worker that answers a scrape. Every label
value comes from a bounded set; whatever falls outside it is counted as `other`.
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import gc
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.process_collector import ProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app import cache, events
from app.metrics_supervisor import (
    MULTIPROC_ENV,
    OPERATION_NAMES_FILE,
    authorized,
    metrics_token,
    multiprocess_registry,
)
from app.settings import Settings
from app.stores import mongo, mongo_log, query_log, replicas

log = logging.getLogger("taskboard")

MULTIPROCESS: bool = prometheus_values.ValueClass._multiprocess
SYNC_INTERVAL_S = 1.0
MAX_LABEL_CHARS = 64
OTHER = "other"
_GRAPHQL_NAME = r"[_A-Za-z][_0-9A-Za-z]*"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

# `_created` series double the output and mean nothing once several processes' values are merged.
disable_created_metrics()
if MULTIPROCESS:
    # A new worker may reuse a dead one's pid before the supervisor reaped it: start from clean live gauges.
    mark_process_dead(os.getpid())


class FixedValues:
    """Label values the code itself chooses (outcomes, generations); anything else is `other`."""

    def __init__(self, *values: str) -> None:
        self.initial = frozenset(values)

    def admit(self, value: str) -> str:
        return value if value in self.initial else OTHER

    known = admit


class BoundedValues:
    """Label values outside the code's control: the first `cap` distinct ones that match `pattern`, truncated.

    With a shared file (multiprocess mode) the cap holds for the whole run, every worker and every restarted
    worker together: a worker admits a new value under an exclusive lock on the file, and only while the
    file lists fewer than `cap`. Once this process has seen `cap` values, nothing new costs any I/O.
    """

    def __init__(self, cap: int, pattern: str, *, reserved: Iterable[str] = (), shared_file: str | None = None):
        self.cap = cap
        self.initial: frozenset[str] = frozenset()
        self._pattern = re.compile(pattern)
        self._reserved = frozenset(reserved)
        self._shared_file = shared_file
        self._admitted: set[str] = set()

    def known(self, value: str) -> str:
        """The label of a value admitted before (in this process), else `other`."""
        label = value[:MAX_LABEL_CHARS]
        return label if label in self._admitted or label in self._reserved else OTHER

    def admit(self, value: str) -> str:
        """The value's label, admitting it while there is room."""
        label = value[:MAX_LABEL_CHARS]
        if label in self._admitted or label in self._reserved:
            return label
        if len(self._admitted) >= self.cap or not self._pattern.fullmatch(label):
            return OTHER
        if self._shared_file is None:
            self._admitted.add(label)
            return label
        return label if self._admit_shared(label, self._shared_file) else OTHER

    def _admit_shared(self, label: str, path: str) -> bool:
        with open(path, "a+", encoding="utf-8") as shared:
            fcntl.flock(shared, fcntl.LOCK_EX)  # released on close
            shared.seek(0)
            listed = shared.read().splitlines()
            self._admitted.update(listed[: self.cap])
            if label in self._admitted:
                return True
            if len(listed) >= self.cap:
                return False
            shared.write(label + "\n")  # names match _GRAPHQL_NAME: no newline inside
            self._admitted.add(label)
            return True


class LabelledMetric:
    """A metric with one label, its children cached by label value: one dict lookup per call on hot paths."""

    def __init__(self, metric: Any, values: FixedValues | BoundedValues) -> None:
        self.metric = metric
        self.values = values
        self._children: dict[str, Any] = {value: metric.labels(value) for value in values.initial}

    def child(self, value: str, *, admit: bool = True) -> Any:
        """The child for value; values that are not (or may not be) admitted share the `other` child."""
        child = self._children.get(value)
        if child is None:
            label = self.values.admit(value) if admit else self.values.known(value)
            child = self._children.get(label)
            if child is None:
                child = self._children[label] = self.metric.labels(label)
        return child

    def observe(self, value: str, amount: float) -> None:
        self.child(value).observe(amount)

    def inc(self, value: str, amount: float = 1.0) -> None:
        self.child(value).inc(amount)

    def inc_soon(self, value: str) -> None:
        """`inc(value)` at the end of this turn of the event loop, added up with the turn's other calls: for
        paths that count once per subscriber of an event (in multiprocess mode every `inc` is a locked mmap
        write). Anything that reads the metric later (a scrape is another request) sees it."""
        _DEFERRED.add(self.child(value))


class _DeferredIncrements:
    """Counter increments added up within one turn of the event loop and applied in one go after it."""

    def __init__(self) -> None:
        self._pending: dict[Any, int] = {}
        self._scheduled = False

    def add(self, child: Any) -> None:
        pending = self._pending
        pending[child] = pending.get(child, 0) + 1
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a command-line tool): at once
            self.flush()
            return
        loop.call_soon(self.flush)
        self._scheduled = True

    def flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        for child, amount in pending.items():
            child.inc(amount)


_DEFERRED = _DeferredIncrements()


def _shared_names_file() -> str | None:
    return os.path.join(os.environ[MULTIPROC_ENV], OPERATION_NAMES_FILE) if MULTIPROCESS else None


OPERATION_SECONDS = LabelledMetric(
    Histogram("taskboard_graphql_operation_seconds", "GraphQL operation latency by operation name.", ["operation"],
              buckets=_LATENCY_BUCKETS),
    # Client-chosen: only names of operations that ran without errors get a label (configure() sets the cap).
    BoundedValues(200, _GRAPHQL_NAME, reserved=("anonymous",), shared_file=_shared_names_file()),
)
ERRORS = LabelledMetric(
    Counter("taskboard_graphql_errors_total", "GraphQL errors by extensions.code.", ["code"]),
    BoundedValues(100, r"[A-Z][A-Z0-9_]*"),
)
SQL_SECONDS = LabelledMetric(
    Histogram("taskboard_sql_seconds", "SQL statement duration by statement kind.", ["kind"], buckets=_LATENCY_BUCKETS),
    BoundedValues(32, r"[A-Z]+"),
)
MONGO_SECONDS = LabelledMetric(
    Histogram("taskboard_mongo_seconds", "MongoDB command duration by command.", ["command"],
              buckets=_LATENCY_BUCKETS),
    BoundedValues(64, r"[A-Za-z]+"),
)
LOADER_BATCH = LabelledMetric(
    Histogram("taskboard_dataloader_batch_size", "Keys per DataLoader batch.", ["loader"], buckets=_SIZE_BUCKETS),
    BoundedValues(64, r"\w+"),
)
SUBSCRIPTION_RESULTS = LabelledMetric(
    Counter("taskboard_subscription_event_results_total",
            "Subscription event results by source: executed for a subscriber, or shared from an identical one's.",
            ["source"]),
    FixedValues("executed", "shared"),
)
SUBSCRIPTION_MASKING = LabelledMetric(
    Counter("taskboard_subscription_event_masking_total",
            "Subscription events shared across rights: results with fields masked for the subscriber (masked), "
            "and documents found deciding by the caller's rights outside a VisibleTo guard, executed per set of "
            "rights from then on (unmaskable).",
            ["outcome"]),
    FixedValues("masked", "unmaskable"),
)
REQUESTS_SHED = LabelledMetric(
    Counter("taskboard_http_requests_shed_total",
            "GraphQL HTTP requests refused with 503 OVERLOADED before anything ran (app.http.admission): the wait "
            "queue was full (queue_full) or the request waited HTTP_QUEUE_TIMEOUT_S (queue_timeout).",
            ["reason"]),
    FixedValues("queue_full", "queue_timeout"),
)
SUBSCRIPTION_DELIVERIES = LabelledMetric(
    Counter("taskboard_subscription_deliveries_total",
            "Subscription results sent to subscribers by path: through strawberry's per-result pipeline (pipeline), "
            "or directly (shared events without errors on graphql-transport-ws, app.graphql.direct_delivery): "
            "written to the socket as a frame at the event's arrival without waking the subscriber (inline) or by "
            "the subscriber's task (frame), or through the ASGI send (direct).",
            ["path"]),
    FixedValues("pipeline", "direct", "frame", "inline"),
)
DIRECT_EXECUTIONS = LabelledMetric(
    Counter("taskboard_graphql_direct_executions_total",
            "Query executions by path: a compiled plan (direct), abandoned for graphql-core's (fallback), or no "
            "plan for the operation (unsupported).",
            ["outcome"]),
    FixedValues("direct", "fallback", "unsupported"),
)
APQ = LabelledMetric(
    Counter("taskboard_apq_total", "Automatic persisted queries by outcome: hit, miss, registered, mismatch.",
            ["outcome"]),
    FixedValues("hit", "miss", "registered", "mismatch"),
)
GC_PAUSE_SECONDS = LabelledMetric(
    Histogram("taskboard_gc_pause_seconds", "Cyclic garbage collector pauses by generation.", ["generation"],
              buckets=_LATENCY_BUCKETS),
    FixedValues("0", "1", "2"),
)
SQL_READS = Counter(
    "taskboard_sql_reads_total",
    "PostgreSQL reads with DATABASE_REPLICA_URLS set, by where they ran (target primary or replica, which "
    "replica) and why (reason: query on a replica; pinned, transaction, own_write, unreplayed_write, "
    "unavailable, position_unknown or replica_failed on the primary).",
    ["target", "replica", "reason"],
)
REPLICA_UP = Gauge(
    "taskboard_sql_replica_up", "1 while a read replica is up and within REPLICA_MAX_LAG_S (worst process).",
    ["replica"], multiprocess_mode="livemin",
)
REPLICA_LAG = Gauge(
    "taskboard_sql_replica_lag_seconds",
    "How far a read replica's replay is behind the primary, at its last poll (worst process; -1 while unknown).",
    ["replica"], multiprocess_mode="livemax",
)
MONGO_READS = Counter(
    "taskboard_mongo_reads_total",
    "User reads that may use a MongoDB secondary (MONGODB_URL's readPreference not primary), by the read "
    "preference they used and why (query; pinned, own_write, shared_cache or position_unknown: the primary).",
    ["read_preference", "reason"],
)
_sql_read_children: dict[tuple[str, str, str], Any] = {}


def _count_sql_read(target: str, replica: str, reason: str) -> None:
    key = (target, replica, reason)
    child = _sql_read_children.get(key)
    if child is None:
        child = _sql_read_children[key] = SQL_READS.labels(*key)
    child.inc()


def _sync_replicas() -> None:
    replica_set = replicas.current()
    if replica_set is None:
        return
    for name, state in replica_set.status().items():
        REPLICA_UP.labels(name).set(1.0 if state["status"] == "up" else 0.0)
        lag = state.get("lag_s")
        REPLICA_LAG.labels(name).set(-1.0 if lag is None else float(lag))


HTTP_IN_FLIGHT = Gauge(
    "taskboard_http_requests_in_flight", "GraphQL HTTP requests admitted and running (app.http.admission).",
    multiprocess_mode="livesum",
)
HTTP_QUEUED = Gauge(
    "taskboard_http_requests_queued", "GraphQL HTTP requests waiting for a slot (app.http.admission).",
    multiprocess_mode="livesum",
)
WEBSOCKET_CONNECTIONS = Gauge(
    "taskboard_websocket_connections", "Open GraphQL WebSockets.", multiprocess_mode="livesum"
)


# ------------------------------------------------------------------------------------ garbage collector

_SLOW_GC_S = 0.05
_gc_started: list[float] = []
# Pauses wait here for sync(): the callback runs inside whatever allocated, possibly while that code holds
# prometheus-client's (non-reentrant) value lock, so it must not touch a metric itself.
_gc_pauses: collections.deque[tuple[str, float]] = collections.deque(maxlen=10_000)


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
        return
    if not _gc_started:
        return
    seconds = time.perf_counter() - _gc_started[0]
    _gc_pauses.append((str(info["generation"]), seconds))
    if seconds >= _SLOW_GC_S:
        log.warning("slow GC pause (%.0f ms): generation %d, %d collected", seconds * 1000, info["generation"],
                    info["collected"])


def install_gc_observer() -> None:
    """Time every collection (a full one stalls the event loop, and every WebSocket with it)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def _record_gc_pauses() -> None:
    while _gc_pauses:
        generation, seconds = _gc_pauses.popleft()
        GC_PAUSE_SECONDS.observe(generation, seconds)


# ------------------------------------------------------------------------------- gauges copied from state

# How several workers' values combine (multiprocess mode); any other key is a running count, summed and
# kept after its worker exits so that the total never goes backwards.
_MODES = {
    "enabled": "livemax", "degraded": "livemax", "degraded_since": "livemax", "flush_pending": "livemax",
    "connected": "livemin", "subscribers": "livesum", "channels": "livesum",
}


class _CopiedGauges:
    """One gauge per numeric key of an owner's stats() (the cache's, the events hub's), created as keys appear."""

    def __init__(self, prefix: str, help_text: str, stats: Callable[[], dict[str, Any]]) -> None:
        self._prefix, self._help, self._stats = prefix, help_text, stats
        self._gauges: dict[str, Gauge] = {}

    def sync(self) -> None:
        for key, value in self._stats().items():
            if value is None:
                value = 0  # e.g. degraded_since while not degraded
            if not isinstance(value, (bool, int, float)):
                continue
            gauge = self._gauges.get(key)
            if gauge is None:
                gauge = self._gauges[key] = Gauge(
                    f"{self._prefix}_{key}", f"{self._help} ({key}).", multiprocess_mode=_MODES.get(key, "sum")
                )
            gauge.set(float(value))


class _ProcessGauges:
    """Multiprocess mode: each worker's process and GC collector samples as gauges with a `pid` label.

    prometheus-client's ProcessCollector reads /proc/self, so in a merged scrape it would describe only
    the worker that answered; copied into `liveall` gauges every worker reports its own CPU, memory and
    descriptors under the standard names (`process_resident_memory_bytes{pid="..."}`), until it exits.
    """

    def __init__(self) -> None:
        self._sources = (ProcessCollector(registry=None), GCCollector(registry=CollectorRegistry()))
        self._gauges: dict[str, Gauge] = {}
        self._children: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}

    def sync(self) -> None:
        for source in self._sources:
            for family in source.collect():
                for sample in family.samples:
                    self._child(family.documentation, sample.name, sample.labels).set(sample.value)

    def _child(self, help_text: str, name: str, labels: dict[str, str]) -> Any:
        key = (name, tuple(sorted(labels.items())))
        child = self._children.get(key)
        if child is None:
            gauge = self._gauges.get(name)
            if gauge is None:
                gauge = self._gauges[name] = Gauge(
                    name, help_text, sorted(labels), multiprocess_mode="liveall", registry=None
                )
            child = self._children[key] = gauge.labels(**labels) if labels else gauge
        return child


_COPIED = (
    _CopiedGauges("taskboard_cache", "Resolver cache counter", cache.stats),
    _CopiedGauges("taskboard_events", "Task events hub and publisher counter", events.stats),
)
_PROCESS = _ProcessGauges() if MULTIPROCESS else None


def sync() -> None:
    """Bring this process's state-derived gauges and GC pauses up to date."""
    _record_gc_pauses()
    _sync_replicas()
    for copied in _COPIED:
        copied.sync()
    if _PROCESS is not None:
        _PROCESS.sync()


async def _sync_forever() -> None:
    while True:
        await asyncio.sleep(SYNC_INTERVAL_S)
        try:
            sync()
        except Exception:  # noqa: BLE001 - metrics must never take the worker down
            log.exception("metrics: sync failed")


@asynccontextmanager
async def serving() -> AsyncIterator[None]:
    """A serving process's lifespan: keep its gauges current; at the end drop its live gauges from the run."""
    sync()
    task = asyncio.create_task(_sync_forever())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sync()
        if MULTIPROCESS:
            # A clean exit: its open-socket and state gauges stop counting; its counters stay in the totals.
            mark_process_dead(os.getpid())


# ------------------------------------------------------------------------------------- set-up, endpoint

_SQL_KIND = re.compile(r"\s*([A-Za-z]+)")


def _sql_kind(statement: str) -> str:
    # A match reads only the first word; splitting would copy the whole statement on every query.
    match = _SQL_KIND.match(statement)
    return match[1].upper() if match else "OTHER"


def configure(settings: Settings) -> None:
    """Apply the settings; feed SQL and Mongo durations into the histograms (observers once per process)."""
    OPERATION_SECONDS.values.cap = settings.metrics_max_operation_names  # type: ignore[union-attr]
    if settings.is_prod and settings.metrics_token is None and settings.metrics_port is None:
        log.warning("metrics: /metrics is open to anyone who reaches the port (set METRICS_TOKEN or METRICS_PORT)")
    if not getattr(configure, "observing", False):
        query_log.add_observer(lambda sql, seconds: SQL_SECONDS.observe(_sql_kind(sql), seconds))
        mongo_log.add_observer(lambda command, seconds: MONGO_SECONDS.observe(command, seconds))
        replicas.add_observer(_count_sql_read)
        mongo.add_read_observer(lambda preference, reason: MONGO_READS.labels(preference, reason).inc())
        configure.observing = True  # type: ignore[attr-defined]


def _exposition() -> bytes:
    return generate_latest(multiprocess_registry() if MULTIPROCESS else REGISTRY)


def metrics_endpoint(settings: Settings) -> Callable[[Request], Any]:
    """GET /metrics, behind METRICS_TOKEN when it is set."""
    token = metrics_token(settings)

    async def endpoint(request: Request) -> Response:
        if not authorized(request.headers.get("authorization"), token):
            return PlainTextResponse("unauthorized\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        sync()  # on the event loop: the owners' state is not thread-safe
        body = await run_in_threadpool(_exposition)  # reading and merging files stays off the loop
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return endpoint
