"""What one computation read: the stamps it depended on, and whether anything escaped them.

A whole-response fill runs its execution inside `recording()`. Every cache read during it (hit or
fill, in any task the execution starts) adds the stamp values it observed *before* loading; the
first value observed per stamp wins, so an entry stored under them is unservable as soon as any of
them changed, also during the execution. A database round trip that is not a cache load (a resolver
that reads around the cache) marks the recording as not covered: its data follows no stamp.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from app.stores import mongo_log, query_log


@dataclass
class Reads:
    """The stamps read (name -> the first value observed) and whether they cover everything read."""

    stamps: dict[str, str] = field(default_factory=dict)
    covered: bool = True
    # The computation fills its entry under that entry's fill lock: no other instance runs it at the same time.
    locked: bool = False

    def observed(self, stamps: Mapping[str, str]) -> None:
        for name, value in stamps.items():
            self.stamps.setdefault(name, value)


_reads: ContextVar[Reads | None] = ContextVar("taskboard_cache_reads", default=None)
# True inside a cache load: its round trips are what the observed stamps stand for.
_in_load: ContextVar[bool] = ContextVar("taskboard_cache_in_load", default=False)
_watching = False


@contextmanager
def recording(*, locked: bool = False) -> Iterator[Reads]:
    """Record the reads of the block (and of the tasks it starts) into a fresh Reads (`locked`: the block runs
    under its entry's fill lock)."""
    reads = Reads(locked=locked)
    token = _reads.set(reads)
    loading = _in_load.set(False)
    try:
        yield reads
    finally:
        _in_load.reset(loading)
        _reads.reset(token)


@contextmanager
def loading() -> Iterator[None]:
    """Mark the block as a cache load (its database round trips are covered by the stamps observed)."""
    token = _in_load.set(True)
    try:
        yield
    finally:
        _in_load.reset(token)


def observed(stamps: Mapping[str, str]) -> None:
    """A cache read observed these stamp values (before loading, or as the entry it served was filled)."""
    reads = _reads.get()
    if reads is not None:
        reads.observed(stamps)


def under_fill_lock() -> bool:
    """Whether this runs inside a recording that holds its entry's fill lock: a cache fill in it needs no lock
    of its own, since no other instance runs the same computation now (and a second fill of a shared entry by
    another computation only costs a load, never a wrong value)."""
    reads = _reads.get()
    return reads is not None and reads.locked


def uncovered() -> None:
    """Something was read that no stamp follows (a database round trip outside a cache load, a bypass)."""
    reads = _reads.get()
    if reads is not None and not _in_load.get():
        reads.covered = False


def _store_round_trip(_name: str, _seconds: float) -> None:
    uncovered()


def watch_stores() -> None:
    """Count every SQL statement and Mongo command as a read for the recording it runs in (once per process).

    Both observers run in the context of the code that sent the statement: pymongo calls its listeners
    in the calling task, asyncpg schedules its query loggers with `call_soon` from it (so a recording
    must yield to the loop once before it looks at `covered`).
    """
    global _watching
    if _watching:
        return
    _watching = True
    query_log.add_observer(_store_round_trip)
    mongo_log.add_observer(_store_round_trip)
