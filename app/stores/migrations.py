"""Schema migrations (aerich): apply under a PostgreSQL advisory lock, and list pending ones."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from pathlib import Path

import asyncpg
from aerich.models import Aerich
from tortoise.exceptions import OperationalError

from app.settings import Settings, mask_url
from app.stores.postgres import APP_LABEL, credentials_from_url, tortoise_config
from app.stores.startup import StoreUnavailable

log = logging.getLogger("taskboard.migrations")

# The repository's migrations/ next to app/; an installed package (the Docker image) names it explicitly.
MIGRATIONS_DIR = Path(os.environ.get("TASKBOARD_MIGRATIONS_DIR") or Path(__file__).resolve().parents[2] / "migrations")
# Arbitrary but fixed: every replica must use the same key ("tb-migr" in ASCII).
ADVISORY_LOCK_KEY = 0x74622D6D696772
_LOCK_POLL_S = 0.2
_VERSION_FILE = re.compile(r"^(\d+)_.*\.py$")


def migration_files() -> list[str]:
    """The migration file names of the app, oldest first."""
    folder = MIGRATIONS_DIR / APP_LABEL
    if not folder.is_dir():
        return []
    names = [path.name for path in folder.iterdir() if _VERSION_FILE.match(path.name)]
    return sorted(names, key=lambda name: int(_VERSION_FILE.match(name).group(1)))  # type: ignore[union-attr]


async def pending_migrations() -> list[str]:
    """Migration files not yet recorded as applied in the `aerich` table (all of them on an empty DB)."""
    try:
        applied = set(await Aerich.filter(app=APP_LABEL).values_list("version", flat=True))
    except OperationalError:  # no aerich table yet
        return migration_files()
    return [name for name in migration_files() if name not in applied]


async def _connect_raw(settings: Settings) -> asyncpg.Connection:
    """A plain connection, retried until STARTUP_TIMEOUT_S (a deploy may start before the database)."""
    creds = credentials_from_url(settings.database_url, pool_min=1, pool_max=1)
    deadline = time.monotonic() + settings.startup_timeout_s
    delay = 0.1
    while True:
        try:
            return await asyncpg.connect(
                host=creds["host"],
                port=creds["port"],
                user=creds["user"],
                password=creds["password"],
                database=creds["database"],
                ssl=creds.get("ssl"),
                timeout=5,
            )
        except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise StoreUnavailable(
                    f"postgres unreachable at {mask_url(settings.database_url)}: {type(exc).__name__}: {exc}"
                ) from exc
            log.warning("postgres not ready at %s (%s); retrying", mask_url(settings.database_url), exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def _take_lock(conn: asyncpg.Connection) -> None:
    """Wait for the migration lock by polling, never by blocking in pg_advisory_lock.

    A waiter blocked inside a statement holds a snapshot for as long as it waits, and CREATE INDEX
    CONCURRENTLY (run by the replica holding the lock) waits for every older snapshot: the two would wait
    for each other forever.
    """
    waiting_logged = False
    # Raw SQL on a plain connection: Tortoise has no advisory locks, and this session must stay outside its pool.
    while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_KEY):
        if not waiting_logged:
            log.info("another replica is migrating; waiting for the migration lock")
            waiting_logged = True
        await asyncio.sleep(_LOCK_POLL_S)


async def apply_migrations(settings: Settings) -> list[str]:
    """Apply pending migrations; replicas running this at once serialise on an advisory lock."""
    from aerich import Command

    # The lock lives on its own session, held for the whole upgrade; the others wait on it, then find
    # nothing left to apply.
    lock_conn = await _connect_raw(settings)
    try:
        await _take_lock(lock_conn)
        log.info("migration lock acquired")
        async with Command(
            tortoise_config=tortoise_config(settings, bounded=False), app=APP_LABEL, location=str(MIGRATIONS_DIR)
        ) as command:
            await command.init()
            applied = await command.upgrade(run_in_transaction=True)
        return applied
    finally:
        try:
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
        finally:
            await lock_conn.close()
