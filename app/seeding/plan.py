"""What to seed: sizes and seed (kept free of heavy imports: the CLI parser reads DEMO_PLAN)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeedPlan:
    users: int
    tasks: int
    seed: int


# What `taskboard seed --if-empty` (and so `make run`) puts into an empty database.
DEMO_PLAN = SeedPlan(users=20, tasks=200, seed=42)
