"""Run settings: sizes, durations, ports and the bench stores (PostgreSQL db, Mongo db, Redis db 7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
VENV_PYTHON = REPO_DIR / ".venv" / "bin" / "python"

# Plain TCP for every server: asyncpg (app, floor) would otherwise negotiate TLS with the cluster's default
# certificate ("prefer") while node-postgres (PostGraphile) connects in plain text.
PG_DSN = "postgres://taskboard:taskboard@127.0.0.1:5432/taskboard_bench?sslmode=disable"
MONGO_URL = "mongodb://127.0.0.1:27017/taskboard_bench"
REDIS_URL = "redis://127.0.0.1:6379/7"

APP_PORT = 8101
FLOOR_PORT = 8103
POSTGRAPHILE_PORT = 5678


@dataclass(frozen=True)
class DataSet:
    users: int = 200
    tasks: int = 10_000
    tags: int = 20
    seed: int = 8


@dataclass(frozen=True)
class RunConfig:
    """Everything a run varies; `quick()` is the short variant for iterating."""

    rounds: int = 3
    warmup_s: float = 3.0
    duration_s: float = 8.0
    wrk_threads: int = 1
    wrk_connections: int = 32
    fanout_subscribers: int = 1000
    fanout_clients: int = 2
    fanout_interval_s: float = 0.1
    fanout_duration_s: float = 10.0
    fanout_big_subscribers: int = 5000
    fanout_big_clients: int = 5
    mixed_warmup_s: float = 1.0
    mixed_duration_s: float = 4.0
    mixed_start_rate: float = 100.0
    mixed_refine: int = 2
    seeding_tasks: int = 100_000
    seeding_rounds: int = 3
    workers: int = 2
    data: DataSet = field(default_factory=DataSet)
    quick: bool = False

    @classmethod
    def quick_run(cls) -> RunConfig:
        return cls(
            rounds=1, warmup_s=1.0, duration_s=3.0, fanout_duration_s=3.0, seeding_rounds=1, quick=True,
            mixed_duration_s=2.0, mixed_refine=1,
        )
