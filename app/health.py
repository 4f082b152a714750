"""/health/live and /health/ready: liveness of the process, readiness of every store and the schema."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.settings import Settings
from app.stores import migrations, mongo, postgres, redis


async def live(_: Request) -> Response:
    """The process is up and serving."""
    return JSONResponse({"status": "live"})


async def _check(ping: Callable[[float], Awaitable[float]], timeout: float) -> dict[str, object]:
    try:
        latency = await asyncio.wait_for(ping(timeout), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means the store is down
        reason = str(exc) or type(exc).__name__
        return {"status": "down", "error": reason[:300]}
    return {"status": "up", "latency_ms": round(latency, 2)}


async def _check_migrations(timeout: float) -> dict[str, object]:
    try:
        pending = await asyncio.wait_for(migrations.pending_migrations(), timeout)
    except Exception as exc:  # noqa: BLE001
        return {"status": "unknown", "error": (str(exc) or type(exc).__name__)[:300]}
    if pending:
        return {"status": "pending", "pending": pending}
    return {"status": "up", "pending": []}


async def readiness(settings: Settings) -> tuple[bool, dict[str, object]]:
    """Check every store (each with a short time-out) and the migrations; return (ready, report)."""
    timeout = settings.health_timeout_s
    pg, mg, rd, mig = await asyncio.gather(
        _check(postgres.ping, timeout),
        _check(mongo.ping, timeout),
        _check(redis.ping, timeout),
        _check_migrations(timeout),
    )
    checks = {"postgres": pg, "mongodb": mg, "redis": rd, "migrations": mig}
    failing = [name for name, check in checks.items() if check["status"] != "up"]
    return not failing, {"status": "ready" if not failing else "not_ready", "failing": failing, "checks": checks}


def ready_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """The /health/ready handler: 200 when everything is up, 503 naming what is not."""

    async def ready(_: Request) -> Response:
        ok, report = await readiness(settings)
        return JSONResponse(report, status_code=200 if ok else 503)

    return ready
