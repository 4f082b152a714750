"""Tracing is off unless configured, installs and uninstalls cleanly, and exports over OTLP from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import httpx
import pytest
import redis.asyncio
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.routing import Route

from app import tracing
from app.graphql.tracing import OperationTracing
from app.main import create_app
from app.settings import Settings
from tests.support.auth import admin_headers
from tests.support.processes import ROOT, app_server

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


def patched() -> dict[str, bool]:
    """Which library entry points the instrumentations have wrapped right now."""
    return {
        "asyncpg": hasattr(asyncpg.Connection.fetch, "__wrapped__"),
        "redis": hasattr(redis.asyncio.Redis.execute_command, "__wrapped__"),
    }


def operation_extensions(app) -> list[object]:
    graphql_app = next(route.app for route in app.routes if isinstance(route, Route) and route.path == "/graphql")
    return [e for e in graphql_app.schema.get_extensions() if isinstance(e, OperationTracing)]


def test_the_standard_variables_decide_whether_traces_are_on() -> None:
    endpoint = "http://127.0.0.1:4318"
    assert not tracing.configured({})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint})
    assert not tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": " "})
    assert not tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "none"})


async def test_without_an_endpoint_nothing_is_installed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    app = create_app(settings)

    assert tracing.current() is None and not tracing.enabled
    assert not any(m.cls is tracing.TraceContextMiddleware for m in app.user_middleware)
    assert operation_extensions(app) == []
    assert patched() == {"asyncpg": False, "redis": False}
    assert not AsyncPGInstrumentor().is_instrumented_by_opentelemetry
    assert not RedisInstrumentor().is_instrumented_by_opentelemetry
    assert tracing.mongo_listeners() == []
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # the global one is never set


def test_without_an_endpoint_the_trace_sdk_and_the_instrumentations_are_not_even_imported() -> None:
    # (redis-py imports the metrics SDK for its own, unconfigured, metrics when the SDK is installed.)
    env = {k: v for k, v in os.environ.items() if k not in tracing.ENDPOINT_VARIABLES}
    script = (
        "import sys; from app.main import create_app; create_app(); "
        "print(sorted({m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace', 'opentelemetry.exporter', "
        "'opentelemetry.instrumentation.asyncpg', 'opentelemetry.instrumentation.redis', "
        "'opentelemetry.instrumentation.pymongo'))}))"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


async def test_install_patches_and_shutdown_undoes_it(settings: Settings) -> None:
    installed = tracing.install(exporter=InMemorySpanExporter())
    try:
        app = create_app(settings)
        assert patched() == {"asyncpg": True, "redis": True}
        assert tracing.mongo_listeners() == [installed.mongo_listener]
        assert any(m.cls is tracing.TraceContextMiddleware for m in app.user_middleware)
        assert len(operation_extensions(app)) == 1
        with pytest.raises(RuntimeError):
            tracing.install(exporter=InMemorySpanExporter())
    finally:
        installed.shutdown()
    assert patched() == {"asyncpg": False, "redis": False}
    assert tracing.current() is None and not tracing.enabled
    assert not installed.mongo_listener.is_enabled


@dataclass
class Collector:
    """A stand-in OTLP/HTTP collector on 127.0.0.1: keeps every export request it receives."""

    url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def collector() -> Iterator[Collector]:
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Collector(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("stores")
def test_a_served_app_exports_over_otlp_and_flushes_at_shutdown(collector: Collector) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=boards",
        "OTEL_SERVICE_NAME": "taskboard-e2e",
        # Nothing is exported before shutdown: what arrives was flushed by the lifespan.
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }
    with app_server(env) as server:
        response = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": "query Counts { tasks(first: 1) { totalCount } users(first: 1) { totalCount } }"},
            headers={**admin_headers(), "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
        )
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        assert collector.requests == []
    # uvicorn re-raises SIGTERM after its graceful shutdown: what the collector holds now was flushed then.
    assert collector.requests, server.log()

    spans = []
    for path, headers, body in collector.requests:
        assert path == "/v1/traces" and headers["x-tenant"] == "boards"
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert attributes["service.name"] == "taskboard-e2e"
            spans += [span for scope in resource_spans.scope_spans for span in scope.spans]
    (operation,) = [span for span in spans if span.name == "query Counts"]
    assert operation.trace_id.hex() == TRACE_ID and operation.parent_span_id.hex() == PARENT_SPAN_ID
    stores = {
        a.value.string_value
        for span in spans if span.parent_span_id == operation.span_id
        for a in span.attributes if a.key == "db.system"
    }
    assert stores == {"postgresql", "mongodb", "redis"}
