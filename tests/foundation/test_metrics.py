"""/metrics exposes operation latency, errors by code, store timings, loader batches, cache and events counters."""

from __future__ import annotations

import gc
import re

import httpx

from app import metrics
from app.metrics import install_gc_observer, render
from tests.support.data import reset_postgres
from tests.support.graphql import gql


async def test_metrics_after_some_traffic(client: httpx.AsyncClient) -> None:
    await reset_postgres()
    await gql(client, "query Board { tasks(first: 5) { totalCount nodes { id tags { name } } } }")
    await gql(client, "query Board { tasks(first: 5) { totalCount nodes { id tags { name } } } }")
    await gql(client, 'mutation Broken { createTask(input: {title: ""}) { id } }')

    text = (await client.get("/metrics")).text

    assert re.search(r'taskboard_graphql_operation_seconds_count\{operation="Board"\} [1-9]', text)
    assert re.search(r'taskboard_graphql_errors_total\{code="VALIDATION_FAILED"\} [1-9]', text)
    assert re.search(r'taskboard_sql_seconds_count\{kind="SELECT"\} [1-9]', text)
    assert re.search(r"taskboard_cache_hits [1-9]", text)
    assert re.search(r"taskboard_cache_misses [1-9]", text)
    assert "taskboard_events_subscribers 0" in text
    assert "taskboard_events_reconnects" in text
    assert "taskboard_websocket_connections 0" in text
    assert "# TYPE taskboard_dataloader_batch_size histogram" in text


def test_garbage_collections_are_timed_by_generation() -> None:
    install_gc_observer()
    try:
        gc.collect(0)
        gc.collect()
        exposition = render()
    finally:
        gc.callbacks.remove(metrics._on_gc)
    for generation in ("0", "2"):
        count = re.search(rf'taskboard_gc_pause_seconds_count{{generation="{generation}"}} (\d+)', exposition)
        assert count is not None and int(count[1]) >= 1, exposition
