"""The committed artefacts match the code: schema.graphql and the aerich migrations."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from strawberry.printer import print_schema

from app.schema import schema
from tests.support.processes import ROOT


def test_schema_graphql_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == print_schema(schema) + "\n", "schema.graphql is stale: run `make schema`"


def test_models_do_not_drift_from_migrations(tmp_path: Path) -> None:
    # aerich writes a new migration file when models and the last migration's state differ; run it on a copy.
    for name in ("app", "migrations"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    before = sorted(p.name for p in (tmp_path / "migrations" / "models").iterdir())
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "AERICH_NO_TORTOISE_V1_WARNING": "1"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("aerich")), "migrate", "--offline", "--name", "drift_check"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    after = sorted(p.name for p in (tmp_path / "migrations" / "models").iterdir())
    assert after == before, f"models drift from migrations/: run `make migration NAME=...` ({result.stdout})"
