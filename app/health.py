"""/health/live and /health/ready: liveness of the process, readiness of every store and the schema.

Readiness decides whether a load balancer sends this instance traffic. Every instance shares the stores, so a
store whose loss the app survives must not take the whole fleet out: MongoDB down (tasks still answer, their
assignees are SERVICE_UNAVAILABLE) or Redis down (the cache bypasses, rate limits fail open) is `degraded`
and still 200; PostgreSQL down or migrations pending is `not_ready`, 503. A read replica down or lagging
beyond REPLICA_MAX_LAG_S is `degraded` too (reads go to the primary): `postgres_replicas` reports each one as
this process's poller last saw it (no round trip). Reasons are short words; the drivers' text (hosts, ports)
goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.settings import Settings
from app.stores import migrations, mongo, postgres, redis, replicas
from app.stores.outages import reason_of

log = logging.getLogger("taskboard.health")

# Stores the app answers without (partially, for MongoDB): down means degraded, not unready.
OPTIONAL = frozenset({"mongodb", "redis", "postgres_replicas"})

# The last failure logged per check: a probe every few seconds logs a store going down once, not each time.
_logged: dict[str, str] = {}


def _failed(name: str, exc: BaseException) -> str:
    reason = reason_of(exc)
    text = f"{type(exc).__name__}: {exc}"
    if _logged.get(name) != text:
        _logged[name] = text
        log.warning("health: %s %s (%s)", name, reason, text)
    return reason


def _passed(name: str) -> None:
    if _logged.pop(name, None) is not None:
        log.warning("health: %s is back", name)


async def live(_: Request) -> Response:
    """The process is up and serving."""
    return JSONResponse({"status": "live"})


async def _check(name: str, ping: Callable[[float], Awaitable[float]], timeout: float) -> dict[str, object]:
    try:
        latency = await asyncio.wait_for(ping(timeout), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means the store is down
        return {"status": "down", "error": _failed(name, exc)}
    _passed(name)
    return {"status": "up", "latency_ms": round(latency, 2)}


async def _check_migrations(timeout: float) -> dict[str, object]:
    try:
        pending = await asyncio.wait_for(migrations.pending_migrations(), timeout)
    except Exception as exc:  # noqa: BLE001
        return {"status": "unknown", "error": _failed("migrations", exc)}
    _passed("migrations")
    if pending:
        return {"status": "pending", "pending": pending}
    return {"status": "up", "pending": []}


async def readiness(settings: Settings) -> tuple[bool, dict[str, object]]:
    """Check every store (each with a short time-out) and the migrations; return (ready, report)."""
    timeout = settings.health_timeout_s
    pg, mg, rd, mig = await asyncio.gather(
        _check("postgres", postgres.ping, timeout),
        _check("mongodb", mongo.ping, timeout),
        _check("redis", redis.ping, timeout),
        _check_migrations(timeout),
    )
    checks = {"postgres": pg, "mongodb": mg, "redis": rd, "migrations": mig}
    replica_set = replicas.current()
    if replica_set is not None:
        each = replica_set.status()
        healthy = all(state["status"] == "up" for state in each.values())
        checks["postgres_replicas"] = {"status": "up" if healthy else "degraded", "replicas": each}
    down = [name for name, check in checks.items() if check["status"] != "up"]
    failing = [name for name in down if name not in OPTIONAL]
    degraded = [name for name in down if name in OPTIONAL]
    status = "not_ready" if failing else "degraded" if degraded else "ready"
    return not failing, {"status": status, "failing": failing, "degraded": degraded, "checks": checks}


def ready_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """The /health/ready handler: 200 when the app can answer (ready or degraded), 503 naming what it needs."""

    async def ready(_: Request) -> Response:
        ok, report = await readiness(settings)
        return JSONResponse(report, status_code=200 if ok else 503)

    return ready
