"""The layering holds: import-linter's contracts (pyproject.toml, [tool.importlinter]) are kept by the code, and
they do catch the imports they are there to forbid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the `app` package under `root`, with the project's contracts."""
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root), "COLUMNS": "300"}, capture_output=True, text=True,
        timeout=120,
    )


def test_every_import_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, f"lint-imports: broken contracts\n{result.stdout}{result.stderr}"
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("app/graphql/arguments.py", "from app.tasks import models", "The shared core imports no domain"),
        ("app/events/hub.py", "from app.users import keys", "The shared core imports no domain"),
        ("app/users/keys.py", "from app.tasks import keys", "Domains depend one way"),
        ("app/tasks/loaders.py", "from app.users.service import get_user",
         "Other domains use app.users only through app.users.public"),
        ("app/tasks/service.py", "from app.audit.writer import record",
         "Other domains use app.audit only through app.audit.public"),
        # app.events.keys imports app.cache.keys: the other way round closes a loop.
        ("app/cache/keys.py", "from app.events import keys", "No import cycle between app's subpackages"),
        ("app/tags/service.py", "import strawberry", "never import strawberry"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    # On a copy of app/ with the one import added at the end of a module.
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__", "static"))
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0, f"adding `{line}` to {module} broke no contract:\n{result.stdout}"
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(contract in row for row in broken), f"expected {contract!r} among {broken}:\n{result.stdout}"
