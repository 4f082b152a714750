"""/metrics exposes operation latency, errors by code, store timings, loader batches, cache and events counters."""

from __future__ import annotations

import asyncio
import gc
import re
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from app import metrics
from app.main import create_app
from app.metrics import MAX_LABEL_CHARS, OTHER, BoundedValues, install_gc_observer
from app.settings import Settings
from tests.support.auth import admin_headers
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


async def test_garbage_collections_are_timed_by_generation(client: httpx.AsyncClient) -> None:
    install_gc_observer()
    try:
        gc.collect(0)
        gc.collect()
    finally:
        gc.callbacks.remove(metrics._on_gc)
    exposition = (await client.get("/metrics")).text
    for generation in ("0", "2"):
        count = re.search(rf'taskboard_gc_pause_seconds_count{{generation="{generation}"}} (\d+)', exposition)
        assert count is not None and int(count[1]) >= 1, exposition


async def test_operation_names_become_labels_only_after_running_without_errors(client: httpx.AsyncClient) -> None:
    failing = f"NeverSucceeds{uuid.uuid4().hex}"
    long_name = f"Long{uuid.uuid4().hex}" + "x" * 100
    await client.post("/graphql", json={"query": f'mutation {failing} {{ createTask(input: {{title: ""}}) {{ id }} }}'})
    await client.post("/graphql", json={"query": f"query {long_name} {{ v{uuid.uuid4().hex}: apiVersion }}"})

    text = (await client.get("/metrics")).text

    assert failing not in text
    assert re.search(r'taskboard_graphql_operation_seconds_count\{operation="other"\} [1-9]', text)
    assert f'operation="{long_name[:MAX_LABEL_CHARS]}"' in text
    assert long_name[: MAX_LABEL_CHARS + 1] not in text


def test_bounded_values_cap_truncate_and_refuse_what_does_not_match() -> None:
    values = BoundedValues(2, r"[A-Za-z]+", reserved=("anonymous",))
    assert values.admit("Alpha") == "Alpha"
    assert values.admit("not valid!") == OTHER
    assert values.admit("B" * 100) == "B" * MAX_LABEL_CHARS
    assert values.admit("Gamma") == OTHER  # full
    assert values.admit("Alpha") == "Alpha"
    assert values.admit("anonymous") == "anonymous"  # ours, never counted against the cap
    assert values.known("Delta") == OTHER


def test_workers_sharing_a_names_file_share_one_cap(tmp_path: Path) -> None:
    shared = str(tmp_path / "names.txt")
    first, second = (BoundedValues(3, r"[A-Za-z]+", shared_file=shared) for _ in range(2))
    assert [first.admit("A"), first.admit("B"), second.admit("C")] == ["A", "B", "C"]
    assert second.admit("D") == OTHER
    assert first.admit("D") == OTHER
    assert first.admit("C") == "C"  # admitted by the other worker
    assert Path(shared).read_text().splitlines() == ["A", "B", "C"]


def metrics_client(settings: Settings, **overrides: object) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update=overrides))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_metrics_token_is_required_when_set(settings: Settings) -> None:
    async with metrics_client(settings, metrics_token=SecretStr("scrape-secret")) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert (await http.get("/metrics", headers={"Authorization": "Bearer scrape-secreT"})).status_code == 401
        assert (await http.get("/metrics", headers=admin_headers())).status_code == 401  # an API token is not it
        response = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert response.status_code == 200
    assert "# TYPE taskboard_graphql_operation_seconds histogram" in response.text


async def test_metrics_are_open_without_a_token(settings: Settings) -> None:
    async with metrics_client(settings) as http:
        assert (await http.get("/metrics")).status_code == 200


async def test_increments_made_soon_are_added_up_and_applied_after_the_turn_of_the_event_loop() -> None:
    child = metrics.SUBSCRIPTION_DELIVERIES.child("inline")
    before = child._value.get()
    for _ in range(3):
        metrics.SUBSCRIPTION_DELIVERIES.inc_soon("inline")
    assert child._value.get() == before  # not yet: within this turn
    await asyncio.sleep(0)
    assert child._value.get() == before + 3
    # and with no event loop running (a command-line tool), at once
    await asyncio.to_thread(metrics.SUBSCRIPTION_DELIVERIES.inc_soon, "inline")
    assert child._value.get() == before + 4
