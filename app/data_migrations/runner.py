"""Run data migrations once each: the work and its record row commit together, or neither does."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from tortoise.backends.base.client import BaseDBAsyncClient

from app.audit import public as audit
from app.auth.principal import system
from app.data_migrations.models import DataMigrationRecord
from app.data_migrations.registry import DataMigration, Outcome, find, load_registry
from app.stores import postgres, sql

# Fixed for every process ("tb-data" in ASCII): two runs of one migration serialise, the second finds it recorded.
ADVISORY_LOCK_KEY = 0x74622D64617461
ACTOR = system("data-migrate")


class RunStatus(str, Enum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already applied"
    DRY_RUN = "dry run"


@dataclass(frozen=True)
class MigrationState:
    """A registered migration and, once applied, when and how long it took."""

    name: str
    description: str
    applied_at: datetime | None
    duration_ms: int | None

    @property
    def pending(self) -> bool:
        return self.applied_at is None


@dataclass(frozen=True)
class RunResult:
    name: str
    status: RunStatus
    outcome: Outcome | None = None
    duration_ms: int = 0


class _RollBack(Exception):
    """Raised inside a dry run's transaction so that it never commits."""


async def migration_states(*, registry: Sequence[DataMigration] | None = None) -> list[MigrationState]:
    """Every registered migration in run order, with its record if it has one."""
    registry = load_registry() if registry is None else registry
    rows = await DataMigrationRecord.all().values("name", "applied_at", "duration_ms")
    records = {row["name"]: row for row in rows}
    return [
        MigrationState(
            name=migration.name,
            description=migration.description,
            applied_at=records[migration.name]["applied_at"] if migration.name in records else None,
            duration_ms=records[migration.name]["duration_ms"] if migration.name in records else None,
        )
        for migration in registry
    ]


async def run_migration(
    *, name: str, dry_run: bool = False, registry: Sequence[DataMigration] | None = None
) -> RunResult:
    """Run one migration by name unless it is recorded; raises UnknownDataMigration for a name not registered."""
    migration = find(load_registry() if registry is None else registry, name)
    if dry_run:
        return await _dry_run(migration)
    async with sql.transaction() as conn:
        db = postgres.client(conn)
        # Raw: Tortoise has no advisory locks. Held until the transaction ends.
        await db.execute_query("SELECT pg_advisory_xact_lock($1)", [ADVISORY_LOCK_KEY])
        if await _recorded(db, migration):
            return RunResult(migration.name, RunStatus.ALREADY_APPLIED)
        started = time.perf_counter()
        outcome = await migration.apply(dry_run=False)
        duration_ms = round((time.perf_counter() - started) * 1000)
        # applied_at: the database's now(), the transaction's start.
        await DataMigrationRecord.create(
            name=migration.name, description=migration.description, duration_ms=duration_ms, using_db=db
        )
        # One audit row per run, in the run's transaction: the record, the audit row and SQL changes commit together.
        await audit.record(
            db,
            actor=ACTOR,
            action=audit.Action.DATA_MIGRATION,
            entity="data_migration",
            entity_id=migration.name,
            changes={"applied": {"old": None, "new": {"changed": outcome.changed, "summary": outcome.summary,
                                                     "duration_ms": duration_ms}}},
        )
    return RunResult(migration.name, RunStatus.APPLIED, outcome, duration_ms)


async def run_pending(
    *, dry_run: bool = False, registry: Sequence[DataMigration] | None = None
) -> AsyncIterator[RunResult]:
    """Run every pending migration in catalogue order, yielding each result; the first failure stops the rest."""
    registry = load_registry() if registry is None else registry
    for state in await migration_states(registry=registry):
        if state.pending:
            yield await run_migration(name=state.name, dry_run=dry_run, registry=registry)


async def _recorded(db: BaseDBAsyncClient, migration: DataMigration) -> bool:
    return await DataMigrationRecord.filter(name=migration.name).using_db(db).exists()


async def _dry_run(migration: DataMigration) -> RunResult:
    # Migrations write nothing when dry_run is set; the rolled-back transaction makes sure of it for SQL.
    outcome: Outcome | None = None
    try:
        async with sql.transaction() as conn:
            if await _recorded(postgres.client(conn), migration):
                return RunResult(migration.name, RunStatus.ALREADY_APPLIED)
            outcome = await migration.apply(dry_run=True)
            raise _RollBack
    except _RollBack:
        pass
    return RunResult(migration.name, RunStatus.DRY_RUN, outcome)
