"""The catalogue of data migrations: one module each, listed here in the order they run."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.common.errors import NotFound

# Append new migrations at the end: `--all` runs pending ones in this order.
MIGRATION_MODULES = (
    "app.data_migrations.add_default_tags",
    "app.data_migrations.migrate_user_settings",
)


@dataclass(frozen=True)
class Outcome:
    """What a migration changed (or, in a dry run, would change)."""

    changed: int
    summary: str


class Apply(Protocol):
    def __call__(self, *, dry_run: bool) -> Awaitable[Outcome]: ...


@dataclass(frozen=True)
class DataMigration:
    """A named, described, idempotent change to data; `apply(dry_run=True)` must write nothing."""

    name: str
    description: str
    apply: Apply


class UnknownDataMigration(NotFound):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown data migration {name!r}; known: {', '.join(known) or '(none)'}",
            extensions={"known": list(known)},
        )
        self.known = list(known)


def load_registry(modules: Sequence[str] = MIGRATION_MODULES) -> list[DataMigration]:
    """Each module's MIGRATION, in catalogue order; names must be unique."""
    registry = [importlib.import_module(module).MIGRATION for module in modules]
    names = [migration.name for migration in registry]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"data migration names registered twice: {', '.join(duplicates)}")
    return registry


def find(registry: Sequence[DataMigration], name: str) -> DataMigration:
    """The migration called name; raises UnknownDataMigration listing the known names."""
    for migration in registry:
        if migration.name == name:
            return migration
    raise UnknownDataMigration(name, [migration.name for migration in registry])
