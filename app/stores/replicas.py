"""PostgreSQL read replicas (DATABASE_REPLICA_URLS): which one, if any, may answer a read right now.

Every process polls the primary's WAL insert position and each replica's replay position every
REPLICA_POLL_S on connections of its own (one per server, outside the pools), and keeps the answers in
memory: choosing a replica for a read costs no round trip to PostgreSQL.

- Freshness. The primary's samples (time, insert position) say which commits a replica holds: one that has
  replayed a sample's position holds every commit acknowledged before that sample was taken. Its staleness
  is the time since the newest such sample; above REPLICA_MAX_LAG_S (or down, or not a standby) it is
  skipped. An idle primary's position does not move, so a caught-up replica stays fresh.
- Read-your-writes. After a commit, `after_commit()` reads `pg_current_wal_insert_lsn()` (one statement on
  the primary, after the COMMIT: asyncpg returns no rows from a multi-statement COMMIT) and records it in
  Redis for the operation's actor (app.stores.routing). The insert position, not `pg_current_wal_lsn()`:
  with `synchronous_commit = off` COMMIT returns before its record is written, so the write position can
  still be short of it; the insert position read after COMMIT returned is past the commit record whatever
  the commit mode. (PostgreSQL 15 has no function returning a transaction's own commit LSN.)
- The shared cache. A cache fill stores what it read under the stamps it observed before reading; a replica
  that has not replayed a write whose invalidation the fill observed would store pre-write data under
  post-write stamps, for every reader, until the next write. So while the cache is on (CACHE_ENABLED) a read
  may use a replica only when it has replayed the highest position any instance recorded after a commit,
  read from Redis after the fill observed its stamps (that is, at the read). Without the cache a read only
  needs its own actor's last write (any other data may lag by up to REPLICA_MAX_LAG_S).

A read a replica fails (down, restarting, a recovery conflict) is run again on the primary, and the replica
is skipped until its poller hears from it again: callers see no difference.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from app.settings import Settings
from app.stores import routing
from app.stores.outages import outage_of, reason_of

log = logging.getLogger("taskboard.stores")

T = TypeVar("T")

PRIMARY = "default"
# Positions as integers (bytes of WAL since initdb): asyncpg decodes pg_lsn to int.
_INSERT_POSITION = "SELECT pg_current_wal_insert_lsn()"
_REPLAY_POSITION = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()"

# Reasons a read went to the primary (the `reason` label of taskboard_sql_reads_total).
PINNED = "pinned"  # not a query operation: mutations, subscription events, commands, health
TRANSACTION = "transaction"  # inside a write's transaction
OWN_WRITE = "own_write"  # no replica has replayed the caller's last write yet
UNREPLAYED_WRITE = "unreplayed_write"  # cache on: no replica has replayed the last recorded write
UNAVAILABLE = "unavailable"  # every replica down, not a standby or lagging beyond REPLICA_MAX_LAG_S
POSITION_UNKNOWN = "position_unknown"  # Redis did not say what must be replayed
REPLICA_FAILED = "replica_failed"  # the chosen replica failed the read: run again on the primary
QUERY = "query"  # served by a replica
REASONS = (PINNED, TRANSACTION, OWN_WRITE, UNREPLAYED_WRITE, UNAVAILABLE, POSITION_UNKNOWN, REPLICA_FAILED, QUERY)

ReadObserver = Callable[[str, str, str], None]  # (target "primary" | "replica", replica name or "", reason)
_observers: list[ReadObserver] = []


def add_observer(observer: ReadObserver) -> None:
    """Call observer(target, replica, reason) for every routed read (metrics)."""
    if observer not in _observers:
        _observers.append(observer)


def _count(target: str, replica: str, reason: str) -> None:
    for observer in _observers:
        observer(target, replica, reason)


@dataclass
class Replica:
    """What this process knows of one replica (names are replica1, replica2, ... in URL order)."""

    name: str
    credentials: dict[str, Any]
    up: bool = False
    state: str = "starting"  # up | down reason | not_standby | starting
    replayed: int = 0  # WAL position replayed at the last poll
    fresh_as_of: float | None = None  # monotonic time: it holds every commit acknowledged before this
    lag_s: float | None = None  # staleness at the last poll (0 when it had replayed the primary's position)

    def staleness(self, now: float) -> float | None:
        return None if self.fresh_as_of is None else max(0.0, now - self.fresh_as_of)


class PrimarySamples:
    """The primary's recent (time, insert position) samples, oldest first; one per distinct position (the
    latest time it was seen at)."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, position: int) -> None:
        if self._samples and self._samples[-1][1] >= position:
            # Unchanged (or a sample that raced an older one): the later time says more.
            self._samples[-1] = (max(at, self._samples[-1][0]), self._samples[-1][1])
        else:
            self._samples.append((at, position))
        while len(self._samples) > 1 and self._samples[0][0] < at - self.keep_s:
            self._samples.popleft()

    @property
    def latest(self) -> int | None:
        return self._samples[-1][1] if self._samples else None

    def fresh_as_of(self, replayed: int) -> float | None:
        """The time of the newest sample at or below `replayed`; None when every kept sample is beyond it."""
        for at, position in reversed(self._samples):
            if position <= replayed:
                return at
        return None


class ReplicaSet:
    """The replicas of one process, their pollers, and the choice of one for a read."""

    def __init__(self, settings: Settings, primary: dict[str, Any], replicas: list[Replica]) -> None:
        self.max_lag_s = settings.replica_max_lag_s
        self.poll_s = settings.replica_poll_s
        self.timeout_s = settings.health_timeout_s
        self.strict = settings.cache_enabled
        self.primary = primary
        self.replicas = replicas
        self.samples = PrimarySamples(keep_s=self.max_lag_s * 2 + self.poll_s * 4 + 1.0)
        self._tasks: list[asyncio.Task[None]] = []
        self._expiring: set[asyncio.Task[None]] = set()  # strong references until they finish
        self._turn = itertools.count()

    # ------------------------------------------------------------------------------------ polling

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._poll_primary(), name="replicas: primary")]
        self._tasks += [asyncio.create_task(self._poll(replica), name=f"replicas: {replica.name}")
                        for replica in self.replicas]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _poll_primary(self) -> None:
        async def sample(conn: asyncpg.Connection, started: float) -> None:
            self.samples.add(started, await conn.fetchval(_INSERT_POSITION, timeout=self.timeout_s))

        await self._every_poll(self.primary, sample, None)

    async def _poll(self, replica: Replica) -> None:
        async def probe(conn: asyncpg.Connection, started: float) -> None:
            in_recovery, replayed = await conn.fetchrow(_REPLAY_POSITION, timeout=self.timeout_s)
            if not in_recovery:
                # Promoted, or a primary named as a replica: its data is not the primary's.
                self._mark(replica, False, "not_standby")
                return
            replica.replayed = replayed or 0
            replica.fresh_as_of = self.samples.fresh_as_of(replica.replayed)
            latest = self.samples.latest
            caught_up = latest is not None and replica.replayed >= latest
            replica.lag_s = 0.0 if caught_up else replica.staleness(started)
            self._mark(replica, True, "up")

        await self._every_poll(replica.credentials, probe, replica)

    async def _every_poll(
        self, credentials: dict[str, Any], probe: Callable[[asyncpg.Connection, float], Awaitable[None]],
        replica: Replica | None,
    ) -> None:
        """probe(connection, monotonic time before its statement) every poll interval, on a connection of its
        own; a failure drops the connection (the next tick connects again) and marks the replica down."""
        conn: asyncpg.Connection | None = None
        try:
            while True:
                started = time.monotonic()
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(**credentials)
                    await probe(conn, started)
                except Exception as exc:  # noqa: BLE001 - down until a poll succeeds again
                    if replica is not None:
                        self._mark(replica, False, reason_of(exc))
                    if conn is not None:
                        conn.terminate()
                        conn = None
                await asyncio.sleep(max(0.0, self.poll_s - (time.monotonic() - started)))
        finally:
            if conn is not None:
                conn.terminate()

    def _mark(self, replica: Replica, up: bool, state: str) -> None:
        if replica.up and not up:
            log.warning("replica %s skipped: %s", replica.name, state)
            # Its pooled connections may be dead (a restart): new ones once it is back.
            task = asyncio.ensure_future(_expire_pool(replica.name))
            self._expiring.add(task)
            task.add_done_callback(self._expiring.discard)
        elif up and not replica.up and replica.state != "starting":
            log.warning("replica %s is back", replica.name)
        replica.up, replica.state = up, state

    # ------------------------------------------------------------------------------------ routing

    def usable(self, now: float) -> list[Replica]:
        """Replicas up and fresh within REPLICA_MAX_LAG_S (at this moment, from the last polls)."""
        found = []
        for replica in self.replicas:
            staleness = replica.staleness(now)
            if replica.up and staleness is not None and staleness <= self.max_lag_s:
                found.append(replica)
        return found

    async def choose(self) -> Replica | None:
        """The replica a read may use now, or None for the primary (each decision counted)."""
        if isinstance(connections.get(PRIMARY), TransactionalDBClient):
            _count("primary", "", TRANSACTION)
            return None
        route = routing.current()
        if route is None or not route.may_lag:
            _count("primary", "", PINNED)
            return None
        if not self.usable(time.monotonic()):
            _count("primary", "", UNAVAILABLE)
            return None
        if self.strict:
            needed, behind = await routing.written_everywhere(), UNREPLAYED_WRITE
            if needed == 0:
                # Nothing recorded (Redis restarted empty): everything the primary had at its last sample.
                needed = self.samples.latest
        else:
            own = await routing.own_writes(route)
            needed, behind = (None if own is None else own.wal), OWN_WRITE
        if needed is None:
            _count("primary", "", POSITION_UNKNOWN)
            return None
        fit = [replica for replica in self.usable(time.monotonic()) if replica.replayed >= needed]
        if not fit:
            _count("primary", "", behind)
            return None
        return fit[next(self._turn) % len(fit)]

    async def read(self, run: Callable[[Any], Awaitable[T]], *, client: bool = False) -> T:
        """`run(connection)` on the replica `choose()` picks, else (or when that replica fails) the primary;
        `client`: run gets the Tortoise client of that server instead (for `QuerySet.using_db`)."""
        replica = await self.choose()
        if replica is not None:
            try:
                result = await _on(replica.name, run, client)
            except Exception as exc:
                if not _replica_failure(exc):
                    raise
                if outage_of(exc) is not None:
                    self._mark(replica, False, reason_of(exc))
                _count("primary", "", REPLICA_FAILED)
            else:
                _count("replica", replica.name, QUERY)
                return result
        return await _on(PRIMARY, run, client)

    async def after_commit(self) -> None:
        """Record the WAL position a commit reached (for its actor, and as the highest recorded)."""
        try:
            async with connections.get(PRIMARY).acquire_connection() as conn:
                position = await conn.fetchval(_INSERT_POSITION)
        except Exception as exc:  # noqa: BLE001 - the write stands; its readers may read the primary longer
            log.warning("replicas: reading the WAL position after a commit failed (%s: %s)", type(exc).__name__, exc)
            return
        await routing.record_wal(position)

    def status(self) -> dict[str, dict[str, Any]]:
        """Each replica as /health/ready reports it: up, lagging (beyond REPLICA_MAX_LAG_S), down or starting."""
        now = time.monotonic()
        usable = self.usable(now)
        report: dict[str, dict[str, Any]] = {}
        for replica in self.replicas:
            lag = None if replica.lag_s is None else round(replica.lag_s, 3)
            if replica.up:
                report[replica.name] = {
                    "status": "up" if replica in usable else "lagging", "lag_s": lag,
                    "replayed_lsn": format_lsn(replica.replayed),
                }
            elif replica.state == "starting":
                report[replica.name] = {"status": "starting"}  # not polled yet
            else:
                report[replica.name] = {"status": "down", "error": replica.state}
        return report


async def _on(name: str, run: Callable[[Any], Awaitable[T]], client: bool) -> T:
    if client:
        return await run(connections.get(name))
    async with connections.get(name).acquire_connection() as conn:
        return await run(conn)


def format_lsn(position: int) -> str:
    """A WAL position as PostgreSQL writes it (`16/B374D848`)."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """The WAL position of PostgreSQL's text form."""
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _replica_failure(exc: BaseException) -> bool:
    """The replica could not answer (down, shutting down, timed out) or cancelled the read for replay (a
    recovery conflict, SQLSTATE class 40): the primary can answer the same read."""
    return outage_of(exc) is not None or isinstance(exc, asyncpg.exceptions.TransactionRollbackError)


async def _expire_pool(name: str) -> None:
    try:
        await connections.get(name)._expire_connections()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a pool that was never opened, or closing
        pass


# ---------------------------------------------------------------------------------- process-wide set

_active: ReplicaSet | None = None


def current() -> ReplicaSet | None:
    """The process's replica set; None when DATABASE_REPLICA_URLS is empty (every read on the primary)."""
    return _active


def connection_names(settings: Settings) -> list[str]:
    """The Tortoise connection name of each replica URL, in order."""
    return [f"replica{index}" for index in range(1, len(settings.database_replica_urls) + 1)]


async def start(settings: Settings, primary: dict[str, Any], replicas: dict[str, dict[str, Any]]) -> None:
    """Start polling (`primary` and `replicas`: plain asyncpg connect arguments, by connection name)."""
    global _active
    await stop()
    if not replicas:
        return
    _active = ReplicaSet(settings, primary, [Replica(name, credentials) for name, credentials in replicas.items()])
    _active.start()
    # After twice the largest lag a usable replica may have, every usable one holds the write.
    routing.enable(routing.WAL, ttl_s=settings.replica_max_lag_s * 2)


async def stop() -> None:
    global _active
    if _active is not None:
        replica_set, _active = _active, None
        routing.disable(routing.WAL)
        await replica_set.stop()
