"""OpenTelemetry traces of GraphQL operations, exported in-process to the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette

from app import cache, events
from app.main import create_app
from app.settings import Settings
from app.tags import loaders as tag_loaders
from tests.support.auth import admin_headers
from tests.support.data import seed_board

BOARD = """query Board($n: Int!) {
  tasks(first: $n, filter: {status: [TODO]}, sort: CREATED_AT_DESC) {
    totalCount
    edges { node { id title tags { name color } assignee { id name email } } }
  }
}"""
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture
async def board() -> None:
    await seed_board(tasks=60)


@pytest.fixture(params=[True, False], ids=["direct", "graphql-core"])
async def client(
    request: pytest.FixtureRequest, exporter: InMemorySpanExporter, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """An app built while tracing is installed (so it has the middleware and the extension), uncached: every read
    reaches the stores, which is what the store spans are about."""
    monkeypatch.setattr(cache.current(), "enabled", False)
    app = create_app(settings.model_copy(update={"graphql_direct_execution": request.param}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=admin_headers()
    ) as http:
        yield http


async def traced(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter, query: str, variables: dict
) -> tuple[dict, list[ReadableSpan]]:
    """POST one operation with the caller's traceparent; the response body and the spans it produced."""
    exporter.clear()
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"traceparent": TRACEPARENT}
    )
    return response.json(), list(exporter.get_finished_spans())


def operation_of(spans: Sequence[ReadableSpan]) -> ReadableSpan:
    """The one operation span among the spans of a request."""
    (operation,) = [span for span in spans if span.kind is SpanKind.SERVER]
    return operation


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id]


def store_of(span: ReadableSpan) -> str | None:
    return (span.attributes or {}).get("db.system") or (span.attributes or {}).get("db.system.name")  # type: ignore[return-value]


def shape(spans: Sequence[ReadableSpan]) -> dict[str, object]:
    """What must not depend on the page size: span names per parent and store span counts."""
    by_id = {span.context.span_id: span for span in spans}
    edges = Counter(
        (by_id[span.parent.span_id].name if span.parent and span.parent.span_id in by_id else "<remote>", span.name)
        for span in spans
    )
    return {"edges": edges, "stores": Counter(store_of(span) for span in spans if store_of(span))}


@pytest.mark.usefixtures("board")
async def test_a_board_query_gives_one_operation_span_with_loader_and_store_spans(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    await traced(client, exporter, BOARD, {"n": 5})  # warm-up: first-use work (script loading) is not the point
    shapes = {}
    for n in (10, 50):
        body, spans = await traced(client, exporter, BOARD, {"n": n})
        assert "errors" not in body, body
        assert len(body["data"]["tasks"]["edges"]) == n
        shapes[n] = shape(spans)

        # Every span belongs to the caller's trace; exactly one operation span, a child of the caller's span.
        assert {format(span.context.trace_id, "032x") for span in spans} == {TRACE_ID}
        operation = operation_of(spans)
        assert operation.name == "query Board"
        assert operation.parent is not None and operation.parent.is_remote
        assert format(operation.parent.span_id, "016x") == PARENT_SPAN_ID
        assert dict(operation.attributes or {}) == {
            "graphql.operation.type": "query",
            "graphql.operation.name": "Board",
            "taskboard.graphql.cost": body["extensions"]["cost"],
            "user.roles": ("admin",),
        }
        assert operation.status.status_code is StatusCode.UNSET

        # One span per DataLoader batch, under the operation; the assignees' find under its batch.
        batches = {span.name: span for span in children(spans, operation) if span.name.startswith("dataloader ")}
        assert set(batches) == {"dataloader tags_by_task_id", "dataloader users_by_id"}
        assert batches["dataloader users_by_id"].attributes["taskboard.dataloader.batch_size"] == 7
        assert [store_of(s) for s in children(spans, batches["dataloader users_by_id"])] == ["mongodb"]
        assert [store_of(s) for s in children(spans, batches["dataloader tags_by_task_id"])] == ["postgresql"]
        # Nothing the caller sent or read is in a span: no token, no email, no variables.
        token = admin_headers()["Authorization"].removeprefix("Bearer ")
        for span in spans:
            for value in (span.attributes or {}).values():
                assert token not in str(value) and "@example.com" not in str(value), (span.name, value)

    # page + count + tags; one MongoDB find; the rate-limit charge in Redis: the same for 10 and 50 rows.
    assert shapes[10]["stores"] == Counter({"postgresql": 3, "mongodb": 1, "redis": 1})
    assert shapes[10] == shapes[50]


async def test_errors_are_reported_by_code_without_the_document(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    body, spans = await traced(client, exporter, 'query Nope { task(id: "x@example.com") { nope } }', {})
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    operation = operation_of(spans)
    assert operation.name == "query Nope"
    assert operation.attributes["taskboard.graphql.error_codes"] == ("GRAPHQL_VALIDATION_FAILED",)
    assert "x@example.com" not in str(dict(operation.attributes or {}))

    client.headers["Authorization"] = "Bearer not-a-token"
    body, spans = await traced(client, exporter, "query Who { tasks(first: 1) { totalCount } }", {})
    operation = operation_of(spans)
    assert operation.attributes["taskboard.graphql.error_codes"] == ("UNAUTHENTICATED",)
    assert operation.attributes["user.roles"] == ("anonymous",)
    assert "not-a-token" not in str([dict(span.attributes or {}) for span in spans])


async def test_an_unexpected_error_marks_the_span_failed_with_the_error_id_clients_see(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> list:
        raise RuntimeError("boom: secret detail")

    monkeypatch.setattr(tag_loaders, "tag_list", broken)
    body, spans = await traced(client, exporter, "query Tags { tags { taskCount } }", {})
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL"
    operation = operation_of(spans)
    assert operation.status.status_code is StatusCode.ERROR
    assert operation.attributes["taskboard.graphql.error_codes"] == ("INTERNAL",)
    assert operation.attributes["taskboard.graphql.error_ids"] == (error["extensions"]["errorId"],)
    assert "secret detail" not in str([dict(span.attributes or {}) for span in spans] + [operation.events])


async def test_client_chosen_operation_names_are_bounded(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    long_name = "Q" + "x" * 500
    _, spans = await traced(client, exporter, f"query {long_name} {{ apiVersion }}", {})
    operation = operation_of(spans)
    assert operation.attributes["graphql.operation.name"] == long_name[:64]
    assert operation.name == f"query {long_name[:64]}"

    exporter.clear()
    response = await client.post("/graphql", json={"query": "{ apiVersion }", "operationName": "a b\n{}"})
    assert response.status_code == 400
    operation = operation_of(exporter.get_finished_spans())
    assert "graphql.operation.name" not in (operation.attributes or {})
    assert operation.name == "GraphQL operation"
    assert operation.attributes["taskboard.graphql.error_codes"] == ("BAD_REQUEST",)


CHANGES = "subscription Changes { taskChanged { kind task { id title tags { name } assignee { name } } } }"


@asynccontextmanager
async def subscribed(app: Starlette, query: str) -> AsyncIterator[AsyncWebSocketSession]:
    """An in-process graphql-transport-ws socket, opened with the caller's traceparent, subscribed to `query` as "1"."""
    async with (
        httpx.AsyncClient(transport=ASGIWebSocketTransport(app), base_url="http://testserver") as ws_http,
        aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"],
                    headers={"traceparent": TRACEPARENT}) as socket,
    ):
        await socket.send_json({"type": "connection_init", "payload": admin_headers()})
        assert (await socket.receive_json())["type"] == "connection_ack"
        await socket.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        yield socket


async def test_a_subscription_span_covers_its_set_up_and_its_events_add_none(
    exporter: InMemorySpanExporter, settings: Settings
) -> None:
    app = create_app(settings)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                          headers=admin_headers()) as http,
        subscribed(app, CHANGES) as socket,
    ):
        assert await until(lambda: events.stats()["subscribers"] >= 1 and events.stats()["channels"] >= 1)
        exporter.clear()

        for n in range(3):
            created = await http.post("/graphql", json={
                "query": "mutation Create($t: String!) { createTask(input: {title: $t}) { id } }",
                "variables": {"t": f"event {n}"},
            })
            assert "errors" not in created.json(), created.text
            message = await socket.receive_json()
            assert message["payload"]["data"]["taskChanged"]["task"]["title"] == f"event {n}"
        await socket.send_json({"id": "1", "type": "complete"})

    spans = exporter.get_finished_spans()
    operations = [span for span in spans if span.kind is SpanKind.SERVER]
    assert [span.name for span in operations] == ["mutation Create"] * 3
    # Every span belongs to one of the mutations: delivering the events (loading the task, its tags and
    # assignee once, executing the selection) ran without spans.
    by_id = {span.context.span_id: span for span in spans}

    def root(span: ReadableSpan) -> ReadableSpan:
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
        return span

    assert {root(span).name for span in spans} == {"mutation Create"}


async def test_the_subscription_operation_span_ends_once_it_is_set_up(
    exporter: InMemorySpanExporter, settings: Settings
) -> None:
    async with subscribed(create_app(settings), CHANGES) as socket:
        # While the subscription is open, its span is already exported.
        assert await until(lambda: any(s.name == "subscription Changes" for s in exporter.get_finished_spans()))
        (operation,) = [s for s in exporter.get_finished_spans() if s.name == "subscription Changes"]
        await socket.send_json({"id": "1", "type": "complete"})

    assert operation.kind is SpanKind.SERVER
    assert format(operation.parent.span_id, "016x") == PARENT_SPAN_ID
    assert operation.attributes["graphql.operation.type"] == "subscription"
    assert operation.attributes["user.roles"] == ("admin",)


async def until(predicate, timeout: float = 10.0) -> bool:
    """Poll predicate on the event loop until it holds (True) or timeout passes (False)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False
