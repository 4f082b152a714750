"""PostgreSQL through Tortoise ORM (asyncpg pool): config, connect, close, health."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

from app.settings import Settings, get_settings, mask_url
from app.stores import replicas
from app.stores.query_log import LoggedConnection

log = logging.getLogger("taskboard.stores")

APP_LABEL = "models"
MODEL_MODULES = [
    "app.tasks.models", "app.tags.models", "app.data_migrations.models", "app.audit.models", "aerich.models"
]

_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


class PooledConnection(LoggedConnection):
    """A pool connection that goes back to the pool without asyncpg's reset round trip.

    asyncpg's default reset (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) costs a
    round trip and four statements on every release: most of the statements of a read. The app never
    leaves session state on a pooled connection: no SET (settings travel as startup parameters), no
    LISTEN (events go through Redis), no session advisory locks (migrations lock on their own
    connection), no WITH HOLD cursors. asyncpg still rolls back a transaction left open on release.
    """

    def get_reset_query(self) -> str:
        return ""


def credentials_from_url(url: str, *, pool_min: int, pool_max: int) -> dict[str, Any]:
    """Tortoise/asyncpg credentials from a postgres:// URL; `sslmode` in the query string is honoured."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    credentials: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or "",
        "database": parts.path.lstrip("/") or "postgres",
        "minsize": pool_min,
        "maxsize": pool_max,
        "connection_class": PooledConnection,
        "application_name": "taskboard",
        # JIT compilation costs more than it saves on short OLTP statements.
        "server_settings": {"jit": "off"},
    }
    sslmode = query.get("sslmode")
    if sslmode:
        if sslmode not in _SSL_MODES:
            raise ValueError(f"DATABASE_URL: unknown sslmode {sslmode!r}")
        credentials["ssl"] = sslmode
    return credentials


def _credentials(settings: Settings, url: str, *, bounded: bool) -> dict[str, Any]:
    credentials = credentials_from_url(url, pool_min=settings.pg_pool_min, pool_max=settings.pg_pool_max)
    # asyncpg's own time-outs: connecting (default 60 s) and each statement (default none).
    credentials["timeout"] = settings.pg_connect_timeout_s
    if bounded:
        credentials["command_timeout"] = settings.pg_command_timeout_s
    return credentials


def tortoise_config(settings: Settings, *, bounded: bool = True) -> dict[str, Any]:
    """The Tortoise config dict (also what aerich reads).

    `bounded`: serving: every statement times out after PG_COMMAND_TIMEOUT_S, and each read replica is a
    connection of its own (`replica1`, ...: app.stores.replicas). Migrations run unbounded, on the primary
    only (the models' `default` connection; no replica is even configured).
    """
    connections_config = {
        "default": {"engine": "tortoise.backends.asyncpg",
                    "credentials": _credentials(settings, settings.database_url, bounded=bounded)},
    }
    if bounded:
        for name, url in zip(replicas.connection_names(settings), settings.database_replica_urls, strict=True):
            connections_config[name] = {"engine": "tortoise.backends.asyncpg",
                                        "credentials": _credentials(settings, url, bounded=True)}
    return {
        "connections": connections_config,
        "apps": {APP_LABEL: {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def __getattr__(name: str) -> Any:
    # aerich imports TORTOISE_ORM from here; build it lazily so importing this module reads no env.
    if name == "TORTOISE_ORM":
        return tortoise_config(get_settings(), bounded=False)
    raise AttributeError(name)


def client(conn: BaseDBAsyncClient | asyncpg.Connection) -> BaseDBAsyncClient:
    """The Tortoise client that runs statements on `conn`, the connection `sql.transaction()` yields (`using_db=`).

    A Tortoise client is returned as it is, and so is the current Tortoise transaction when `conn` is its
    connection (what `sql.transaction()` yields, nested blocks included); any other connection is a mistake.
    """
    if isinstance(conn, BaseDBAsyncClient):
        return conn
    current = connections.get("default")
    if isinstance(current, TransactionalDBClient) and current._connection is conn:  # type: ignore[attr-defined]
        return current
    raise RuntimeError("postgres.client() takes the connection sql.transaction() yields, inside that block")


def connection_of(conn: BaseDBAsyncClient | asyncpg.Connection) -> asyncpg.Connection:
    """The asyncpg connection of a transaction: `conn` itself (what `sql.transaction()` yields), or the one a
    Tortoise transaction client runs on; anything else (a pool client) is a mistake."""
    if isinstance(conn, asyncpg.Connection):
        return conn
    if isinstance(conn, TransactionalDBClient):
        return conn._connection  # type: ignore[attr-defined,no-any-return]
    raise RuntimeError("postgres.connection_of() takes a transaction's connection or client")


def poll_credentials(settings: Settings, url: str) -> dict[str, Any]:
    """asyncpg.connect() arguments for a replica poller's own connection (plain: not in the query log)."""
    pooled = credentials_from_url(url, pool_min=1, pool_max=1)
    wanted = ("host", "port", "user", "password", "database", "ssl")
    return {
        **{key: pooled[key] for key in wanted if key in pooled},
        "timeout": settings.pg_connect_timeout_s,
        "server_settings": {"application_name": "taskboard-replica-poll"},
    }


async def connect(settings: Settings) -> None:
    """Initialise Tortoise and open the pool; raises if PostgreSQL does not answer. Replicas are opened on
    first use and polled from now on: one that is down does not hold the start-up."""
    # The lifespan runs in another task than requests: the global fallback makes the context visible there.
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    await connections.get("default").execute_query("SELECT 1")
    names = replicas.connection_names(settings)
    for name, url in zip(names, settings.database_replica_urls, strict=True):
        log.info("postgres read replica %s at %s", name, mask_url(url))
    await replicas.start(
        settings, poll_credentials(settings, settings.database_url),
        {name: poll_credentials(settings, url) for name, url in zip(names, settings.database_replica_urls, strict=True)},
    )


async def close() -> None:
    """Stop polling replicas and close the pools."""
    await replicas.stop()
    await Tortoise.close_connections()


async def ping(timeout: float) -> float:
    """Run SELECT 1 and return its latency in milliseconds."""
    started = time.perf_counter()
    await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), timeout)
    return (time.perf_counter() - started) * 1000.0
