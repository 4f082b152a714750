"""MongoDB (or FerretDB) through Beanie on pymongo's AsyncMongoClient: connect, close, health, and which
member of a replica set a read goes to.

MONGODB_URL carries the replica-set options pymongo reads (`replicaSet=`, `readPreference=`,
`maxStalenessSeconds=`, `w=majority`, `readConcernLevel=`). Writes use the URL's write concern (every
collection inherits it). Reads go to the primary unless their read path runs them inside
`secondary_reads()` and a secondary cannot show anything the caller must see:

- only during a query operation (app.stores.routing: mutations and subscription events read the primary);
- not while the caller's last MongoDB write may still be missing on a secondary (`wrote_documents()` marks
  the caller after each write, for twice maxStalenessSeconds, or twice REPLICA_MAX_LAG_S without it);
- not while the shared cache is on (CACHE_ENABLED): a fill stores what it read under the stamps it observed
  first, so a secondary behind a write would leave pre-write data cached for everyone. MongoDB's answer to
  that (causally consistent sessions reading `afterClusterTime` of the last write) is not used: FerretDB,
  which every test runs on, has no replica sets to check it against.
Then they use the URL's readPreference; everything else explicitly reads the primary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.read_preferences import Primary

from app import tracing
from app.settings import Settings
from app.stores import routing
from app.stores.mongo_log import CommandObserver

DEFAULT_DATABASE = "taskboard"

_client: AsyncMongoClient | None = None

# Every Beanie document class the app registers, with the indexes of its collection (named by app.schema).
Documents = Mapping[type[Document], Sequence[IndexModel]]


def make_client(settings: Settings) -> AsyncMongoClient:
    """A client with the pool size and time-outs from settings (tz-aware datetimes)."""
    return AsyncMongoClient(
        settings.mongodb_url,
        maxPoolSize=settings.mongo_pool_max,
        tz_aware=True,
        # Without a reachable server, pymongo waits serverSelectionTimeoutMS on every operation (30 s by
        # default): the bound on how long a request waits for a MongoDB that is down.
        serverSelectionTimeoutMS=int(settings.mongo_timeout_s * 1000),
        connectTimeoutMS=int(settings.mongo_timeout_s * 1000),
        socketTimeoutMS=int(settings.mongo_socket_timeout_s * 1000),
        appname="taskboard",
        event_listeners=[CommandObserver(), *tracing.mongo_listeners()],
    )


def database() -> AsyncDatabase:
    """The app database (the one named in MONGODB_URL)."""
    if _client is None:
        raise RuntimeError("MongoDB is not connected")
    return _client.get_default_database(default=DEFAULT_DATABASE)


async def connect(settings: Settings, documents: Documents) -> None:
    """Open the client, check it answers `hello`, and register the Beanie documents (creates their indexes)."""
    global _client
    client = make_client(settings)
    try:
        await client.admin.command("hello")
        db = client.get_default_database(default=DEFAULT_DATABASE)
        await init_beanie(database=db, document_models=list(documents), skip_indexes=True)
        await ensure_indexes(db, documents)
    except BaseException:
        await client.close()
        raise
    _client = client
    _reads.configure(settings, client)


async def ensure_indexes(db: AsyncDatabase, documents: Documents) -> None:
    """Create each document's indexes one by one (idempotent).

    Beanie sends them in one createIndexes command; when they all exist already, FerretDB v1.24
    panics on that ("slice bounds out of range") and drops the connection. One index per command works
    on FerretDB and on MongoDB alike.
    """
    for model, indexes in documents.items():
        collection = db[model.get_settings().name]
        for index in indexes:
            await collection.create_indexes([index])


async def close() -> None:
    """Close the client."""
    global _client
    _reads.configure(None, None)
    if _client is not None:
        await _client.close()
        _client = None


async def ping(timeout: float) -> float:
    """Send `ping` and return its latency in milliseconds."""
    if _client is None:
        raise RuntimeError("MongoDB is not connected")
    started = time.perf_counter()
    await asyncio.wait_for(_client.admin.command("ping"), timeout)
    return (time.perf_counter() - started) * 1000.0


# ------------------------------------------------------------------------------------ read preference

# Why a routed read went where it went (the `reason` label of taskboard_mongo_reads_total).
SECONDARY_OK = "query"  # a query operation's read that may lag: the URL's readPreference
PINNED = "pinned"  # not a query operation
OWN_WRITE = "own_write"  # the caller wrote recently
SHARED_CACHE = "shared_cache"  # the shared cache is on: fills must not lag
POSITION_UNKNOWN = "position_unknown"  # Redis did not say whether the caller wrote

ReadObserver = Callable[[str, str], None]  # (read preference name, reason)


@dataclass
class _ReadPolicy:
    lagging: bool = False  # the URL prefers other members than the primary
    shared_cache: bool = True
    preference: str = "primary"
    observers: list[ReadObserver] = field(default_factory=list)
    primaries: dict[int, tuple[AsyncCollection, AsyncCollection]] = field(default_factory=dict)

    def configure(self, settings: Settings | None, client: AsyncMongoClient | None) -> None:
        self.primaries.clear()
        if settings is None or client is None:
            self.lagging = False
            routing.disable(routing.DOCUMENTS)
            return
        preference = client.read_preference
        self.preference = preference.mongos_mode  # primary, secondaryPreferred, nearest, ...
        self.lagging = not isinstance(preference, Primary)
        self.shared_cache = settings.cache_enabled
        if self.lagging:
            staleness = preference.max_staleness  # -1: no bound asked for
            bound = staleness if staleness > 0 else settings.replica_max_lag_s
            routing.enable(routing.DOCUMENTS, ttl_s=bound * 2)

    def count(self, preference: str, reason: str) -> None:
        for observer in self.observers:
            observer(preference, reason)


_reads = _ReadPolicy()
_secondary_ok: ContextVar[bool] = ContextVar("taskboard_mongo_secondary_ok", default=False)


def add_read_observer(observer: ReadObserver) -> None:
    """Call observer(read preference, reason) for every `secondary_reads()` block (metrics)."""
    if observer not in _reads.observers:
        _reads.observers.append(observer)


class RoutedReads:
    """Mixin for Beanie documents (before `Document`): their collection reads the primary, except inside
    `secondary_reads()` where it may use the URL's readPreference."""

    @classmethod
    def get_pymongo_collection(cls) -> AsyncCollection:
        collection: AsyncCollection = super().get_pymongo_collection()  # type: ignore[misc]
        if not _reads.lagging or _secondary_ok.get():
            return collection
        cached = _reads.primaries.get(id(collection))
        if cached is None or cached[0] is not collection:
            cached = (collection, collection.with_options(read_preference=Primary()))
            _reads.primaries[id(collection)] = cached
        return cached[1]


async def _secondary_reason() -> str:
    if _reads.shared_cache:
        return SHARED_CACHE
    route = routing.current()
    if route is None or not route.may_lag:
        return PINNED
    own = await routing.own_writes(route)
    if own is None:
        return POSITION_UNKNOWN
    return OWN_WRITE if own.documents else SECONDARY_OK


@asynccontextmanager
async def secondary_reads() -> AsyncIterator[bool]:
    """Reads in the block may use MONGODB_URL's readPreference when nothing the caller must see could be
    missing there (see the module docstring); yields whether they may."""
    if not _reads.lagging:
        yield False
        return
    reason = await _secondary_reason()
    allowed = reason == SECONDARY_OK
    _reads.count(_reads.preference if allowed else "primary", reason)
    token = _secondary_ok.set(allowed)
    try:
        yield allowed
    finally:
        _secondary_ok.reset(token)


async def wrote_documents() -> None:
    """After a write: the caller's reads use the primary until every secondary may have it."""
    if _reads.lagging:
        await routing.record_documents()

