"""Start real processes for tests: app instances under uvicorn, throwaway Redis/FerretDB instances."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def ferretdb_binary() -> Path:
    """The FerretDB binary `scripts/services up` starts (patched, README: Services), built first if missing."""
    command = [str(ROOT / "scripts" / "services"), "ferretdb-bin"]
    return Path(subprocess.run(command, check=True, capture_output=True, text=True, timeout=900).stdout.strip())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05) -> bool:
    """Poll predicate until it returns truthy or timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(interval)
    return False


@dataclass
class ServerProcess:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_app(env: dict[str, str] | None = None, *, wait_ready: bool = True, workers: int = 1) -> ServerProcess:
    """Run the app under uvicorn on a free port, as `taskboard serve` does."""
    port = free_port()
    log_file = tempfile.NamedTemporaryFile(prefix="taskboard-app-", suffix=".log", delete=False)
    full_env = {**os.environ, **(env or {}), "PORT": str(port), "HOST": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", Path(log_file.name))
    if wait_ready:
        ok = wait_until(lambda: httpx.get(f"{server.base_url}/health/live", timeout=1).status_code == 200, 30)
        if not ok:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"app did not start:\n{server.log()}")
    return server


@contextmanager
def app_server(env: dict[str, str] | None = None, *, workers: int = 1) -> Iterator[ServerProcess]:
    """An app instance for the duration of the block."""
    server = start_app(env, workers=workers)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def throwaway_redis() -> Iterator[tuple[str, subprocess.Popen]]:
    """A private redis-server on a free port (never the shared one), killed at the end."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="taskboard-redis-")
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        if not wait_until(lambda: socket.create_connection(("127.0.0.1", port), 0.2).close() is None, 10):
            raise RuntimeError("throwaway redis did not start")
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def listening(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:port (raises OSError otherwise)."""
    socket.create_connection(("127.0.0.1", port), 0.2).close()
    return True


@contextmanager
def throwaway_ferretdb(
    *, database: str = "outage", binary: Path | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """A private FerretDB (SQLite handler, temporary directory) on a free port (or `port`), killed at the end;
    the build `scripts/services up` starts unless `binary` names another.

    Yields the server's mongodb:// URL (naming `database`) and its process, which a test may kill.
    """
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="taskboard-ferretdb-")
    process = subprocess.Popen(
        [str(binary or ferretdb_binary()), "--handler=sqlite", f"--sqlite-url=file:{workdir}/", f"--listen-addr=127.0.0.1:{port}",
         "--telemetry=disable", "--debug-addr=-", f"--state-dir={workdir}", "--log-level=error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_until(lambda: listening(port), 15):
            raise RuntimeError("throwaway FerretDB did not start")
        yield f"mongodb://127.0.0.1:{port}/{database}", process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def services_redis(maxmemory: str | None = None) -> Iterator[str]:
    """A Redis started by `scripts/services up redis` itself (its settings exactly), on a free port and a
    private state directory (never the shared one); killed by its own pid file at the end."""
    port = free_port()
    state = tempfile.mkdtemp(prefix="taskboard-services-")
    env = {**os.environ, "TASKBOARD_REDIS_PORT": str(port), "TASKBOARD_STATE_DIR": state}
    if maxmemory is not None:
        env["TASKBOARD_REDIS_MAXMEMORY"] = maxmemory
    pidfile = Path(state) / "redis" / "redis.pid"
    try:
        subprocess.run([str(ROOT / "scripts" / "services"), "up", "redis"], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)
