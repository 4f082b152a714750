from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app import tracing
from app.settings import Settings
from app.schema import PARTS
from app.stores import mongo
from tests.support.data import reset_mongo, reset_postgres


@pytest.fixture(autouse=True)
async def clean_stores(stores: None) -> None:
    await reset_postgres()
    await reset_mongo()


async def reopen_mongo(settings: Settings) -> None:
    """A new MongoDB client: listeners are fixed when a client is made (the app makes its clients after install)."""
    await mongo.close()
    await mongo.connect(settings, PARTS.documents)


@pytest.fixture
async def exporter(settings: Settings, stores: None) -> AsyncIterator[InMemorySpanExporter]:
    """Tracing installed for this test with an in-memory exporter; uninstalled (libraries unpatched) after it."""
    spans = InMemorySpanExporter()
    installed = tracing.install(exporter=spans)
    try:
        await reopen_mongo(settings)
        yield spans
    finally:
        installed.shutdown()
        await reopen_mongo(settings)
