"""wrk runs: warm-up, then a timed window around which server CPU, peak RSS and SQL calls are read."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from benchkit.auth import tokens_file
from benchkit.config import BENCH_DIR, WORK_DIR
from benchkit.procs import run_measured

LUA = BENCH_DIR / "lua" / "post.lua"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    bad: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wrk_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _parse(output: str, wrk_cpu_s: float) -> WrkResult:
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        bad=raw["bad"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        wrk_cpu_s=wrk_cpu_s,
    )


def write_body(name: str, body: dict[str, object]) -> Path:
    path = WORK_DIR / "bodies" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, separators=(",", ":")))
    return path


def run_wrk(url: str, body: Path, *, seconds: float, threads: int, connections: int) -> WrkResult:
    """One wrk run of `seconds` (whole seconds, at least 1) against url."""
    duration = max(1, round(seconds))
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA), url,
    ]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BENCH_BODY": str(body), "BENCH_TOKENS": tokens_file()}
    result = run_measured(cmd, env=env, cwd=WORK_DIR, log=WORK_DIR / "logs" / "wrk.log", timeout_s=duration + 30)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {result.returncode}):\n{result.output[-2000:]}")
    return _parse(result.output, result.cpu_s)
