"""`taskboard serve --workers 2` behind one port: one scrape of /metrics reports every worker's traffic.

A real server process; the test gives it PROMETHEUS_MULTIPROC_DIR so that it can also read each worker's
own files and check that both workers really served.
"""

from __future__ import annotations

import asyncio
import glob
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import MAX_LABEL_CHARS
from app.metrics_supervisor import OPERATION_NAMES_FILE
from tests.support.auth import admin_headers
from tests.support.processes import ServerProcess, app_server, free_port, wait_until

OPERATION_COUNT = "taskboard_graphql_operation_seconds_count"
CAP = 200


@pytest.fixture(scope="module")
def multiproc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("multiproc")
    # A previous run's values: if the server did not clear the directory at start, they would be counted.
    stale = MmapedDict(str(directory / "histogram_999999.db"))
    stale.write_value(mmap_key("taskboard_graphql_operation_seconds", "taskboard_graphql_operation_seconds_bucket",
                               ("operation", "le"), ("Spread", "+Inf"), "stale"), 1000.0, 0.0)
    stale.close()
    return directory


@pytest.fixture(scope="module")
def server(multiproc_dir: Path) -> Iterator[ServerProcess]:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir), "METRICS_MAX_OPERATION_NAMES": str(CAP)}
    with app_server(env, workers=2) as instance:
        assert wait_until(lambda: len(worker_pids(scrape(instance.base_url))) == 2, 30), instance.log()
        yield instance


def scrape(base_url: str) -> str:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def worker_pids(text: str) -> set[str]:
    """Workers that report themselves: the process gauges carry a pid label in multiprocess mode."""
    return {labels["pid"] for labels, _ in samples(text, "process_resident_memory_bytes")}


def per_worker_counts(directory: Path, operation: str) -> dict[str, float]:
    """Each worker's own count of an operation, read from that worker's histogram file alone."""
    counts = {}
    for path in glob.glob(str(directory / "histogram_*.db")):
        pid = Path(path).stem.split("_")[1]
        merged = MultiProcessCollector.merge([path])
        counts[pid] = sum(
            sample.value for metric in merged for sample in metric.samples
            if sample.name == OPERATION_COUNT and sample.labels.get("operation") == operation
        )
    return counts


def fresh_query(name: str) -> str:
    """A document never sent before: a repeated one would be answered by the whole-response cache (kept in
    Redis across runs) without being executed, and so without being counted."""
    return f"query {name} {{ v{uuid.uuid4().hex}: apiVersion }}"


async def run_operations(base_url: str, documents: list[str], *, concurrency: int = 10) -> None:
    """POST each document on a fresh connection, `concurrency` at a time, so that both workers accept some."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, headers=admin_headers(), limits=limits, timeout=20) as http:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(document: str) -> None:
            async with semaphore:
                body = (await http.post("/graphql", json={"query": document})).json()
            assert "errors" not in body and body["data"], body

        await asyncio.gather(*(one(document) for document in documents))


async def test_one_scrape_counts_the_requests_of_both_workers(server: ServerProcess, multiproc_dir: Path) -> None:
    assert not (multiproc_dir / "histogram_999999.db").exists()  # cleared at start
    sent = 0
    for _ in range(20):  # until the kernel has handed connections to both workers
        await run_operations(server.base_url, [fresh_query("Spread") for _ in range(40)])
        sent += 40
        per_worker = per_worker_counts(multiproc_dir, "Spread")
        if len([count for count in per_worker.values() if count > 0]) == 2:
            break
    assert len([count for count in per_worker.values() if count > 0]) == 2, per_worker
    assert sum(per_worker.values()) == sent

    text = scrape(server.base_url)

    assert samples(text, OPERATION_COUNT) == [({"operation": "Spread"}, float(sent))]
    assert len(worker_pids(text)) == 2
    assert samples(text, "taskboard_websocket_connections") == [({}, 0.0)]
    assert [value for _, value in samples(text, "taskboard_cache_enabled")] == [1.0]
    assert {labels["generation"] for labels, _ in samples(text, "taskboard_gc_pause_seconds_count")} == {"0", "1", "2"}
    assert samples(text, "python_info")


async def test_a_killed_worker_is_marked_dead_and_its_counts_stay(server: ServerProcess) -> None:
    before = scrape(server.base_url)
    total = samples(before, OPERATION_COUNT)
    victim = sorted(worker_pids(before))[0]

    os.kill(int(victim), signal.SIGKILL)

    def replaced() -> bool:
        pids = worker_pids(scrape(server.base_url))
        return victim not in pids and len(pids) == 2

    assert wait_until(replaced, 30), server.log()
    assert samples(scrape(server.base_url), OPERATION_COUNT) == total


async def test_operation_name_labels_stay_bounded_over_all_workers(server: ServerProcess, multiproc_dir: Path) -> None:
    def long_name(index: int) -> str:
        return f"Op{index:04d}_" + "x" * 494

    await run_operations(server.base_url, [fresh_query(long_name(index)) for index in range(500)])

    text = scrape(server.base_url)
    labels = {labels["operation"] for labels, _ in samples(text, OPERATION_COUNT)}
    assert len(labels) <= CAP + 1
    assert "other" in labels
    assert max(len(label) for label in labels) <= MAX_LABEL_CHARS
    # Every request is counted, under its name or as `other`.
    assert sum(value for labels, value in samples(text, OPERATION_COUNT) if labels["operation"] != "Spread") == 500
    # Both workers admitted names, yet together no more than the cap: the bound holds for the whole server.
    admitted = (multiproc_dir / OPERATION_NAMES_FILE).read_text().splitlines()
    assert len(admitted) == CAP
    per_worker = {}
    for path in glob.glob(str(multiproc_dir / "histogram_*.db")):
        merged = MultiProcessCollector.merge([path])
        per_worker[path] = {
            sample.labels["operation"] for metric in merged for sample in metric.samples
            if sample.name == OPERATION_COUNT and sample.labels["operation"].startswith("Op")
        }
    assert len([names for names in per_worker.values() if names]) >= 2, per_worker


def test_metrics_port_serves_only_metrics_and_the_main_port_hides_them() -> None:
    metrics_port = free_port()
    env = {"METRICS_PORT": str(metrics_port), "METRICS_TOKEN": "scrape-secret"}
    with app_server(env) as instance:
        assert httpx.post(f"{instance.base_url}/graphql", json={"query": fresh_query("Port")},
                          headers=admin_headers()).status_code == 200
        assert httpx.get(f"{instance.base_url}/metrics").status_code == 404

        port_url = f"http://127.0.0.1:{metrics_port}"
        assert httpx.get(f"{port_url}/metrics").status_code == 401
        good = {"Authorization": "Bearer scrape-secret"}
        response = httpx.get(f"{port_url}/metrics", headers=good)
        assert response.status_code == 200
        assert samples(response.text, OPERATION_COUNT) == [({"operation": "Port"}, 1.0)]
        assert httpx.get(f"{port_url}/graphql", headers=good).status_code == 404
        assert httpx.get(f"{port_url}/health/live", headers=good).status_code == 404
