"""Prometheus metrics: a small in-process registry and the /metrics endpoint (text exposition format 0.0.4).

Histograms and counters are plain dicts updated on the event loop thread; gauges and the cache/events
counters are read from their owners when scraped.
"""

from __future__ import annotations

import bisect
import gc
import logging
import time
from collections import defaultdict
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app import cache, events
from app.stores import mongo_log, query_log

log = logging.getLogger("taskboard")

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Histogram:
    """Cumulative-bucket histogram per label value."""

    def __init__(self, name: str, help_text: str, label: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.label, self.buckets = name, help_text, label, buckets
        self._counts: dict[str, list[int]] = defaultdict(lambda: [0] * (len(buckets) + 1))
        self._sums: dict[str, float] = defaultdict(float)

    def observe(self, label_value: str, value: float) -> None:
        self._counts[label_value][bisect.bisect_left(self.buckets, value)] += 1
        self._sums[label_value] += value

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for label_value, counts in sorted(self._counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                yield f'{self.name}_bucket{{{self.label}="{_escape(label_value)}",le="{le}"}} {running}'
            yield f'{self.name}_sum{{{self.label}="{_escape(label_value)}"}} {self._sums[label_value]}'
            yield f'{self.name}_count{{{self.label}="{_escape(label_value)}"}} {running}'


class Counter:
    """Counter per label value."""

    def __init__(self, name: str, help_text: str, label: str) -> None:
        self.name, self.help, self.label = name, help_text, label
        self._values: dict[str, int] = defaultdict(int)

    def inc(self, label_value: str, amount: int = 1) -> None:
        self._values[label_value] += amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for label_value, value in sorted(self._values.items()):
            yield f'{self.name}{{{self.label}="{_escape(label_value)}"}} {value}'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


OPERATION_SECONDS = Histogram(
    "taskboard_graphql_operation_seconds", "GraphQL operation latency by operation name.", "operation", _LATENCY_BUCKETS
)
ERRORS = Counter("taskboard_graphql_errors_total", "GraphQL errors by extensions.code.", "code")
SQL_SECONDS = Histogram("taskboard_sql_seconds", "SQL statement duration by statement kind.", "kind", _LATENCY_BUCKETS)
MONGO_SECONDS = Histogram("taskboard_mongo_seconds", "MongoDB command duration by command.", "command", _LATENCY_BUCKETS)
LOADER_BATCH = Histogram("taskboard_dataloader_batch_size", "Keys per DataLoader batch.", "loader", _SIZE_BUCKETS)
SUBSCRIPTION_RESULTS = Counter(
    "taskboard_subscription_event_results_total",
    "Subscription event results by source: executed for a subscriber, or shared from an identical one's.",
    "source",
)
DIRECT_EXECUTIONS = Counter(
    "taskboard_graphql_direct_executions_total",
    "Query executions by path: a compiled plan (direct), abandoned for graphql-core's (fallback), or no plan "
    "for the operation (unsupported).",
    "outcome",
)
APQ = Counter(
    "taskboard_apq_total", "Automatic persisted queries by outcome: hit, miss, registered, mismatch.", "outcome"
)
WEBSOCKETS = {"open": 0}


GC_PAUSE_SECONDS = Histogram(
    "taskboard_gc_pause_seconds", "Cyclic garbage collector pauses by generation.", "generation", _LATENCY_BUCKETS
)
_SLOW_GC_S = 0.05
_gc_started: list[float] = []


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
        return
    if not _gc_started:
        return
    seconds = time.perf_counter() - _gc_started[0]
    GC_PAUSE_SECONDS.observe(str(info["generation"]), seconds)
    if seconds >= _SLOW_GC_S:
        log.warning("slow GC pause (%.0f ms): generation %d, %d collected", seconds * 1000, info["generation"],
                    info["collected"])


def install_gc_observer() -> None:
    """Time every collection (a full one stalls the event loop, and every WebSocket with it)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def _sql_kind(statement: str) -> str:
    head = statement.lstrip().split(None, 1)
    return head[0].upper() if head else "OTHER"


def install_store_observers() -> None:
    """Feed SQL and Mongo durations into the histograms (once per process)."""
    if not getattr(install_store_observers, "done", False):
        query_log.add_observer(lambda sql, seconds: SQL_SECONDS.observe(_sql_kind(sql), seconds))
        mongo_log.add_observer(lambda command, seconds: MONGO_SECONDS.observe(command, seconds))
        install_store_observers.done = True  # type: ignore[attr-defined]


def _gauges(prefix: str, values: dict[str, object], help_text: str) -> Iterable[str]:
    for key, value in sorted(values.items()):
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, (int, float)):
            yield f"# HELP {prefix}_{key} {help_text} ({key})."
            yield f"# TYPE {prefix}_{key} gauge"
            yield f"{prefix}_{key} {value}"


def render() -> str:
    """The whole exposition."""
    lines: list[str] = []
    metrics = (
        OPERATION_SECONDS, ERRORS, SQL_SECONDS, MONGO_SECONDS, LOADER_BATCH, SUBSCRIPTION_RESULTS, APQ, GC_PAUSE_SECONDS,
        DIRECT_EXECUTIONS,
    )
    for metric in metrics:
        lines.extend(metric.render())
    lines.extend(_gauges("taskboard_cache", cache.stats(), "Resolver cache counter"))
    lines.extend(_gauges("taskboard_events", events.stats(), "Task events hub and publisher counter"))
    lines.extend(_gauges("taskboard_websocket", {"connections": WEBSOCKETS["open"]}, "Open GraphQL WebSockets"))
    return "\n".join(lines) + "\n"


async def metrics_endpoint(_: Request) -> Response:
    """GET /metrics."""
    return PlainTextResponse(render(), media_type="text/plain; version=0.0.4")
