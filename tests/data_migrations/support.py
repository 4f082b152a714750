"""Helpers shared by the data-migration, seeding and migration tests: clean stores, CLI runs, Mongo command counts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
from pymongo import monitoring

from app.common import changes
from app.stores import mongo, sql
from tests.support.processes import ROOT


class MongoCommands(monitoring.CommandListener):
    """Counts commands by name while recording (registered before any client exists: see below)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.recording = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


# pymongo only attaches global listeners to clients created afterwards; test modules are imported at
# collection, before the session `stores` fixture opens the client.
MONGO_COMMANDS = MongoCommands()
monitoring.register(MONGO_COMMANDS)


async def wipe_stores() -> None:
    """Empty tasks, tags, the data-migration records and users."""
    await sql.execute("TRUNCATE task_tags, tasks, tags, data_migrations CASCADE")
    await mongo.database()["users"].delete_many({})


class ChangeLog:
    """Collects dispatched change notices (what the cache and event publisher would receive)."""

    def __init__(self) -> None:
        self.changes: list[changes.Change] = []

    async def __call__(self, batch: list[changes.Change]) -> None:
        self.changes.extend(batch)


@pytest.fixture
async def clean(stores: None) -> None:
    """Start the test from empty stores."""
    await wipe_stores()


@pytest.fixture
def change_log() -> Iterator[ChangeLog]:
    """The change notices dispatched during the test."""
    log = ChangeLog()
    changes.add_listener(log)
    yield log
    changes.remove_listener(log)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `taskboard ARGS` in a subprocess with the test environment (plus env)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
