"""SQL statement observation: dev logging, slow-query warnings, and a recorder tests use to count round trips."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import asyncpg
import asyncpg.introspection

log = logging.getLogger("taskboard.sql")

# asyncpg's one-time type introspection (first use of a type on a connection): driver work, not ours.
_DRIVER_QUERIES = frozenset({asyncpg.introspection.INTRO_LOOKUP_TYPES, asyncpg.introspection.INTRO_LOOKUP_TYPES_13})


@dataclass
class StatementRecorder:
    """Collects the SQL statements executed while it is active (tests count round trips with it)."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@dataclass
class _QueryLogConfig:
    log_all: bool = False
    slow_ms: float = 200.0
    recorders: list[StatementRecorder] = field(default_factory=list)
    observers: list[Callable[[str, float], None]] = field(default_factory=list)


_config = _QueryLogConfig()


def configure(*, log_all: bool, slow_ms: float) -> None:
    """Set whether every statement is logged (dev) and the slow-statement threshold (all envs)."""
    _config.log_all = log_all
    _config.slow_ms = slow_ms


def add_observer(observer: Callable[[str, float], None]) -> None:
    """Call observer(sql, seconds) for every statement (metrics)."""
    _config.observers.append(observer)


@contextmanager
def record_statements() -> Iterator[StatementRecorder]:
    """Record every SQL statement run in this process while the block is active."""
    recorder = StatementRecorder()
    _config.recorders.append(recorder)
    try:
        yield recorder
    finally:
        _config.recorders.remove(recorder)


def _on_query(record: asyncpg.connection.LoggedQuery) -> None:  # type: ignore[name-defined]
    query: str = record.query
    if query in _DRIVER_QUERIES or "set_config('jit'" in query:
        return
    elapsed_ms = record.elapsed * 1000.0
    for recorder in _config.recorders:
        recorder.statements.append(query)
    for observer in _config.observers:
        observer(query, record.elapsed)
    if elapsed_ms >= _config.slow_ms:
        log.warning("slow SQL (%.1f ms): %s", elapsed_ms, query)
    elif _config.log_all:
        log.info("SQL (%.2f ms): %s", elapsed_ms, query)


class LoggedConnection(asyncpg.Connection):
    """asyncpg connection that reports every statement to the query log."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.add_query_logger(_on_query)
