"""MongoDB (or FerretDB) through Beanie on pymongo's AsyncMongoClient: connect, close, health."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from app import tracing
from app.settings import Settings
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
