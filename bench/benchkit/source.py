"""Which code is measured: a clean export of a commit (default HEAD), or the live working tree.

Several engineers edit the working tree at once; a half-saved file there would break or skew a run, so
by default the bench measures a commit, exported with `git archive` into bench/.work/src/<sha>.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import io
from dataclasses import dataclass
from pathlib import Path

from benchkit.config import REPO_DIR, WORK_DIR


@dataclass(frozen=True)
class Source:
    path: Path
    label: str
    commit: str

    def env(self) -> dict[str, str]:
        """Environment that makes `python -m app...` import this source, whatever the venv points at."""
        return {"PYTHONPATH": str(self.path)}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_DIR, check=True, capture_output=True, text=True).stdout.strip()


def export_commit(rev: str) -> Source:
    """The tree of `rev`, exported once into bench/.work/src/<sha>."""
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    target = WORK_DIR / "src" / sha
    if not (target / "app").is_dir():
        archive = subprocess.run(["git", "archive", sha], cwd=REPO_DIR, check=True, capture_output=True).stdout
        tmp = target.with_name(sha + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        os.replace(tmp, target)
    subject = _git("log", "-1", "--format=%s", sha)
    return Source(path=target, label=f"commit {sha[:10]} ({subject[:70]})", commit=sha)


def working_tree() -> Source:
    sha = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "app", "migrations", "pyproject.toml"))
    suffix = " + uncommitted changes" if dirty else ""
    return Source(path=REPO_DIR, label=f"working tree at {sha[:10]}{suffix}", commit=sha)


def resolve(spec: str) -> Source:
    """'tree' for the working tree, otherwise a git revision (default HEAD)."""
    return working_tree() if spec == "tree" else export_commit(spec)
