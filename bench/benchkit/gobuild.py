"""The bench's Go programs (bench/openloop, bench/wsclient): standard library only, built with the local
toolchain and no network into bench/.work/<name>, once per process (Go's build cache makes a rebuild of
unchanged sources a link)."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from benchkit.config import BENCH_DIR, WORK_DIR


@functools.cache
def binary(name: str) -> Path:
    """go build bench/<name> into bench/.work/<name>; RuntimeError with the compiler's output if it fails."""
    out = WORK_DIR / name
    WORK_DIR.mkdir(exist_ok=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local"}
    try:
        result = subprocess.run(["go", "build", "-o", str(out), "."], cwd=BENCH_DIR / name, capture_output=True,
                                text=True, check=False, env=env)
    except FileNotFoundError:
        raise RuntimeError(f"go build bench/{name}: no `go` on PATH (needs Go 1.26, standard library only)") from None
    if result.returncode != 0:
        raise RuntimeError(f"go build bench/{name} failed:\n{result.stderr[-2000:]}")
    return out
