"""MongoDB command observation: slow-command warnings, metrics hooks, and a recorder tests count with."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pymongo import monitoring

log = logging.getLogger("taskboard.mongo")

# Handshakes, heartbeats and session bookkeeping: not round trips our code asked for.
_HOUSEKEEPING = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo", "saslStart", "saslContinue"})


@dataclass
class CommandRecorder:
    """Collects the names of the Mongo commands sent while it is active."""

    commands: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.commands)


_recorders: list[CommandRecorder] = []
_observers: list[Callable[[str, float], None]] = []
_slow_ms = 200.0


def configure(*, slow_ms: float) -> None:
    """Commands slower than slow_ms are logged as warnings."""
    global _slow_ms
    _slow_ms = slow_ms


def add_observer(observer: Callable[[str, float], None]) -> None:
    """Call observer(command_name, seconds) for every command (metrics)."""
    _observers.append(observer)


@contextmanager
def record_commands() -> Iterator[CommandRecorder]:
    """Record every Mongo command this process sends while the block is active."""
    recorder = CommandRecorder()
    _recorders.append(recorder)
    try:
        yield recorder
    finally:
        _recorders.remove(recorder)


class CommandObserver(monitoring.CommandListener):
    """Attached to the app's client: feeds recorders, observers and the slow-command log."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _HOUSEKEEPING:
            for recorder in _recorders:
                recorder.commands.append(event.command_name)

    def _finished(self, name: str, micros: int) -> None:
        if name in _HOUSEKEEPING:
            return
        seconds = micros / 1_000_000
        for observer in _observers:
            observer(name, seconds)
        if seconds * 1000 >= _slow_ms:
            log.warning("slow Mongo command %s (%.1f ms)", name, seconds * 1000)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._finished(event.command_name, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finished(event.command_name, event.duration_micros)
