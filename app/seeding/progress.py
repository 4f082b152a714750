"""Seeding progress: a rich progress bar on a terminal, plain log lines otherwise (CI, pipes, files)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

log = logging.getLogger("taskboard.seeding")

LOG_STEPS = 10  # log lines per phase when not on a terminal


class Progress(Protocol):
    def start(self, phase: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


class SilentProgress:
    """Reports nothing (library callers, tests)."""

    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


class LogProgress:
    """One log line when a phase starts and each time another tenth of it is done."""

    def __init__(self) -> None:
        self._phase = ""
        self._total = 0
        self._done = 0

    def start(self, phase: str, total: int) -> None:
        self._phase, self._total, self._done = phase, total, 0
        log.info("seeding %s: 0/%d", phase, total)

    def advance(self, amount: int) -> None:
        before = self._tenths()
        self._done += amount
        if self._tenths() > before:
            log.info("seeding %s: %d/%d", self._phase, self._done, self._total)

    def _tenths(self) -> int:
        return self._done * LOG_STEPS // self._total if self._total else LOG_STEPS


class RichProgress:
    """A rich progress bar per phase on the given terminal."""

    def __init__(self, bar: object) -> None:
        self._bar = bar
        self._task: object | None = None

    def start(self, phase: str, total: int) -> None:
        self._task = self._bar.add_task(phase, total=total)  # type: ignore[attr-defined]

    def advance(self, amount: int) -> None:
        self._bar.advance(self._task, amount)  # type: ignore[attr-defined]


@contextmanager
def progress_for(stream: TextIO) -> Iterator[Progress]:
    """A bar when stream is a terminal, log lines otherwise."""
    if not stream.isatty():
        yield LogProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:>6}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Bar(*columns, console=Console(file=stream)) as bar:
        yield RichProgress(bar)
