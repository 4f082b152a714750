"""Processes: start servers, find their worker trees, read CPU time and peak RSS from /proc."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    """A finished child process: exit code, wall time, CPU seconds, peak RSS (bytes), its output."""

    returncode: int
    wall_s: float
    cpu_s: float
    max_rss: int
    output: str


def run_measured(cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path, timeout_s: float) -> Measured:
    """Run cmd to completion; wait4 gives its own CPU time and peak RSS (not its siblings')."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)  # keeps Popen from waiting again
    return Measured(
        returncode=proc.returncode,
        wall_s=time.perf_counter() - started,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss=usage.ru_maxrss * 1024,
        output=log.read_text(errors="replace"),
    )


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # comm may contain spaces and parentheses: split after its closing one.
    return raw[raw.rindex(")") + 2 :].split()


def parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def tree(root: int) -> list[int]:
    """root and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        try:
            children.setdefault(parent_of(pid), []).append(pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of the processes (those that have exited since count as zero)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def cpu_by_pid(pids: Iterable[int]) -> dict[int, float]:
    """utime + stime per live process, to diff against a later reading (processes come and go)."""
    found: dict[int, float] = {}
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings; processes born in between count from zero."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def peak_rss(pids: Iterable[int]) -> int:
    """Sum of VmHWM (bytes) over the processes."""
    return sum(_status_kb(pid, "VmHWM") for pid in pids) * 1024


def reset_peak_rss(pids: Iterable[int]) -> None:
    """Start VmHWM over from the current RSS (clear_refs 5; needs root or the same user)."""
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL backends serving `database` (their process title names it)."""
    marker = f" {database} "
    return [pid for pid in all_pids() if cmdline(pid).startswith("postgres:") and marker in cmdline(pid)]


def ferretdb_pids() -> list[int]:
    """The FerretDB server(s): the MongoDB-wire stand-in of dev and test (shared with other sessions)."""
    return [pid for pid in all_pids() if "ferretdb" in cmdline(pid).split(" ", 1)[0]]


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Server:
    """A server process started by the bench; stop() ends it and every worker it spawned."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pids(self) -> list[int]:
        return tree(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self.alive():
            return
        pids = self.pids
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=timeout_s)


def start_server(
    name: str, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path
) -> Server:
    """Start cmd in its own session (so no signal from our terminal reaches it), output to log."""
    out = log.open("w")
    proc = subprocess.Popen(cmd, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    return Server(name=name, proc=proc, log=log)


def wait_until(check: Callable[[], bool], *, timeout_s: float, server: Server | None = None) -> None:
    """Poll check() until it is true; raise with the server's log tail when it dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server is not None and not server.alive():
            raise RuntimeError(f"{server.name} exited during start-up:\n{tail(server.log)}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        time.sleep(0.2)
    detail = f":\n{tail(server.log)}" if server is not None else ""
    raise RuntimeError(f"not ready after {timeout_s:.0f}s{detail}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
