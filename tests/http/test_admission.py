"""Admission control (app.http.admission): at most N /graphql requests at once, a bounded FIFO queue with a
time-out, 503 OVERLOADED for the rest; other paths and WebSockets untouched. On a small app whose endpoint
waits until the test lets it finish, then on the real app (a request held open by a body not yet sent)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.http.admission import AdmissionControl
from tests.support.auth import admin_headers
from tests.support.processes import app_server


class Gate:
    """The endpoint's requests, each running until the test opens its gate."""

    def __init__(self) -> None:
        self.running: list[str] = []
        self.finished: list[str] = []
        self.open: dict[str, asyncio.Event] = {}

    def release(self, name: str) -> None:
        self.open.setdefault(name, asyncio.Event()).set()


def build(gate: Gate, *, max_in_flight: int, max_queued: int, queue_timeout_s: float) -> AdmissionControl:
    async def graphql(request: Request) -> JSONResponse:
        name = request.query_params["name"]
        gate.running.append(name)
        await gate.open.setdefault(name, asyncio.Event()).wait()
        gate.finished.append(name)
        return JSONResponse({"name": name})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/graphql", graphql), Route("/health/live", health)])
    return AdmissionControl(app, max_in_flight=max_in_flight, max_queued=max_queued, queue_timeout_s=queue_timeout_s)


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    yield Gate()


async def _until(condition, steps: int = 2000) -> None:
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def _running(client: httpx.AsyncClient, gate: Gate, name: str) -> asyncio.Task[httpx.Response]:
    """A request the endpoint is running (until the test releases it)."""
    request = asyncio.create_task(client.get("/graphql", params={"name": name}))
    await _until(lambda: name in gate.running)
    return request


def _gauge(metrics: httpx.Response, name: str) -> float:
    found = re.search(rf"^taskboard_http_requests_{name} (\S+)$", metrics.text, re.MULTILINE)
    return float(found[1]) if found else -1.0


def _overloaded(response: httpx.Response) -> bool:
    body = response.json()
    return (response.status_code == 503 and response.headers["retry-after"] == "1"
            and body["errors"][0]["extensions"]["code"] == "OVERLOADED")


async def test_requests_past_the_limit_wait_in_order_and_run_as_slots_free(gate: Gate) -> None:
    admission = build(gate, max_in_flight=2, max_queued=10, queue_timeout_s=30)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=admission), base_url="http://t") as client:
        calls = [asyncio.create_task(client.get("/graphql", params={"name": name})) for name in "abcd"]
        await _until(lambda: len(gate.running) == 2)
        await asyncio.sleep(0.05)
        assert gate.running == ["a", "b"] and admission.in_flight == 2  # c and d wait
        gate.release("b")
        await _until(lambda: len(gate.running) == 3)
        assert gate.running[2] == "c"  # the first in line got b's slot
        for name in "acd":
            gate.release(name)
        responses = await asyncio.gather(*calls)
    assert [r.json()["name"] for r in responses] == list("abcd")
    assert admission.in_flight == 0


async def test_a_full_queue_or_a_wait_past_the_time_out_is_refused_503_overloaded_and_never_runs(gate: Gate) -> None:
    admission = build(gate, max_in_flight=1, max_queued=1, queue_timeout_s=0.2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=admission), base_url="http://t") as client:
        held = await _running(client, gate, "held")
        waiting = asyncio.create_task(client.get("/graphql", params={"name": "waits"}))
        await _until(lambda: len(admission._waiting) == 1)
        full = await client.get("/graphql", params={"name": "full"})  # the one queue place is taken
        assert _overloaded(full)
        timed_out = await waiting  # its wait ran out while "held" still ran
        assert _overloaded(timed_out)
        assert (await client.get("/health/live")).status_code == 200  # other paths are never held back
        gate.release("held")
        assert (await held).status_code == 200
        gate.release("after")
        after = await client.get("/graphql", params={"name": "after"})
    assert after.status_code == 200
    assert gate.running == ["held", "after"]  # refused requests never reached the endpoint
    assert admission.in_flight == 0 and not admission._waiting


async def test_a_waiting_request_that_goes_away_gives_up_its_place(gate: Gate) -> None:
    admission = build(gate, max_in_flight=1, max_queued=5, queue_timeout_s=30)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=admission), base_url="http://t") as client:
        held = await _running(client, gate, "held")
        gone = asyncio.create_task(client.get("/graphql", params={"name": "gone"}))
        nxt = asyncio.create_task(client.get("/graphql", params={"name": "next"}))
        await _until(lambda: len(admission._waiting) == 2)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        gate.release("held")
        gate.release("next")
        assert (await held).status_code == 200 and (await nxt).json() == {"name": "next"}
    assert gate.running == ["held", "next"] and admission.in_flight == 0 and not admission._waiting


async def test_the_app_sheds_graphql_requests_past_its_limit_and_counts_them() -> None:
    env = {"HTTP_MAX_IN_FLIGHT": "1", "HTTP_MAX_QUEUED": "0", "HTTP_QUEUE_TIMEOUT_S": "5"}
    with app_server(env) as server:
        release = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield b'{"query": "{ tags { tag { id } } '
            await release.wait()
            yield b'}"}'

        async with httpx.AsyncClient(base_url=server.base_url, timeout=30, headers=admin_headers()) as client:
            # one request admitted and running: its body is still on the way
            held = asyncio.create_task(client.post("/graphql", content=slow_body(),
                                                   headers={"content-type": "application/json"}))
            for _ in range(500):
                if _gauge(await client.get("/metrics"), "in_flight") == 1:
                    break
                await asyncio.sleep(0.01)
            refused = await client.post("/graphql", json={"query": "{ tags { tag { id } } }"})
            assert refused is not None and _overloaded(refused)
            assert refused.json()["errors"][0]["message"] == "the server is overloaded: retry later"
            assert (await client.get("/health/live")).status_code == 200
            release.set()
            answered = await held
            for _ in range(500):  # the slot is freed once the answer has gone out
                if _gauge(await client.get("/metrics"), "in_flight") == 0:
                    break
                await asyncio.sleep(0.01)
            assert _gauge(await client.get("/metrics"), "in_flight") == 0
            assert answered.status_code == 200 and "errors" not in answered.json()
            assert (await client.post("/graphql", json={"query": "{ tags { tag { id } } }"})).status_code == 200
            metrics = (await client.get("/metrics")).text
    shed = dict(re.findall(r'taskboard_http_requests_shed_total\{reason="(\w+)"\} (\d+)', metrics))
    assert int(float(shed.get("queue_full", 0))) >= 1 and int(float(shed.get("queue_timeout", 0))) == 0
