"""The serving process's side of metrics: prometheus-client's multiprocess directory, dead workers, METRICS_PORT.

`taskboard serve` enters `serving_metrics()` before uvicorn starts (and spawns) its workers, so every worker
imports prometheus_client with PROMETHEUS_MULTIPROC_DIR already set and writes its values to mmap files
there; whichever process answers a scrape merges all of them. Nothing here imports the app: the supervisor
records no metrics of its own (prometheus_client is imported only after the variable is set).
"""

from __future__ import annotations

import glob
import hmac
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from app.settings import Settings

log = logging.getLogger("taskboard")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Admitted operation-name labels, shared by every worker of a run (app.metrics); not a *.db file, so the
# collector never reads it.
OPERATION_NAMES_FILE = "taskboard_operation_names.txt"
REAP_INTERVAL_S = 1.0
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an Authorization header carries the metrics bearer token (always, when no token is set)."""
    if not token:
        return True
    scheme, _, credentials = (header or "").partition(" ")
    # Constant-time: the comparison must not tell a prober how much of the token it got right.
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


def metrics_token(settings: Settings) -> str | None:
    """METRICS_TOKEN, or None when /metrics is open."""
    return settings.metrics_token.get_secret_value() if settings.metrics_token else None


def multiprocess_registry() -> Any:
    """A registry that merges every worker's files (and the interpreter's constant python_info)."""
    from prometheus_client import CollectorRegistry, PlatformCollector
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    PlatformCollector(registry)
    return registry


def uses_multiprocess_mode(settings: Settings, *, workers: int) -> bool:
    """Several workers, a metrics port served from outside the worker's event loop, or the operator's choice."""
    return workers > 1 or settings.metrics_port is not None or bool(os.environ.get(MULTIPROC_ENV))


@contextmanager
def serving_metrics(settings: Settings, *, workers: int) -> Iterator[None]:
    """Around uvicorn.run: the run's multiprocess directory, its dead-worker reaper and the metrics port."""
    if not uses_multiprocess_mode(settings, workers=workers):
        yield
        return
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")
    directory, created = _prepare_directory(os.environ.get(MULTIPROC_ENV))
    os.environ[MULTIPROC_ENV] = directory
    log.info("metrics: multiprocess directory %s", directory)
    stop = threading.Event()
    reaper = threading.Thread(target=_reap_dead_workers, args=(directory, stop), name="metrics-reaper", daemon=True)
    reaper.start()
    port_server = _start_metrics_port(settings) if settings.metrics_port is not None else None
    try:
        yield
    finally:
        stop.set()
        if port_server is not None:
            port_server.shutdown()
            port_server.server_close()
        reaper.join(REAP_INTERVAL_S * 2)
        if created:
            shutil.rmtree(directory, ignore_errors=True)


def _prepare_directory(given: str | None) -> tuple[str, bool]:
    """A fresh directory for this run (created), or the given one emptied of a previous run's files."""
    if not given:
        return tempfile.mkdtemp(prefix="taskboard-metrics-"), True
    os.makedirs(given, exist_ok=True)
    # Values left by an earlier run would be merged into this one's (counters would not start at zero).
    for path in (*glob.glob(os.path.join(given, "*.db")), os.path.join(given, OPERATION_NAMES_FILE)):
        if os.path.exists(path):
            os.remove(path)
    return given, False


def _reap_dead_workers(directory: str, stop: threading.Event) -> None:
    """Mark workers that died without a clean shutdown (killed, crashed): their live gauges stop counting.

    uvicorn's supervisor restarts a dead worker but offers no hook; its pid's files are what we can see.
    Counters and histograms of dead workers stay, so totals never go backwards.
    """
    from prometheus_client.multiprocess import mark_process_dead

    while not stop.wait(REAP_INTERVAL_S):
        for pid in _live_gauge_pids(directory):
            if not _alive(pid):
                mark_process_dead(pid, directory)
                log.info("metrics: worker %d is gone; its live gauges were dropped", pid)


def _live_gauge_pids(directory: str) -> set[int]:
    pids = set()
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.fullmatch(name)
        if match:
            pids.add(int(match[1]))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"  # exited, not yet reaped by uvicorn's supervisor


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return None


def _metrics_wsgi_app(token: str | None) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"unauthorized\n"]
        body = generate_latest(multiprocess_registry())
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4), ("Content-Length", str(len(body)))])
        return [body]

    return app


def _start_metrics_port(settings: Settings) -> WSGIServer:
    """/metrics (and nothing else) on 127.0.0.1:METRICS_PORT, answered by this process from the workers' files."""
    assert settings.metrics_port is not None
    server = make_server(
        "127.0.0.1", settings.metrics_port, _metrics_wsgi_app(metrics_token(settings)),
        server_class=_ThreadingServer, handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics-port", daemon=True).start()
    log.info("metrics: serving /metrics on 127.0.0.1:%d", settings.metrics_port)
    return server
