"""OpenTelemetry traces: off unless an OTLP endpoint is configured, and then installed once per process.

Off (no `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_SDK_DISABLED=true`, or
`OTEL_TRACES_EXPORTER=none`): nothing here is imported beyond this module, no tracer provider exists, no library
is patched, and create_app adds no middleware and no schema extension, so no tracing code runs per request.

On: one SDK TracerProvider of the app's own (the process-global provider is left alone, so a second install
after an uninstall works, which tests rely on), spans batched to the OTLP/HTTP exporter that the SDK configures
from the standard `OTEL_*` variables (headers, timeout, compression, certificates, sampler, resource), the
maintained instrumentations of asyncpg and redis (patched at class level, so existing clients are covered) and
pymongo's command listener (attached by app.stores.mongo to every client it creates), and an ASGI middleware
that makes the caller's W3C `traceparent` the parent of everything the request does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.trace import Tracer
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("taskboard.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
SERVICE_NAME = "taskboard"
INSTRUMENTATION_NAME = "taskboard"

# Read on hot paths (one check per DataLoader batch): a plain module attribute, not a call.
enabled = False


@dataclass
class Tracing:
    """The installed provider, the app's tracer, and what was patched (undone by shutdown)."""

    provider: TracerProvider
    tracer: Tracer
    instrumentors: list[Any]
    mongo_listener: Any  # opentelemetry.instrumentation.pymongo.CommandTracer

    def shutdown(self) -> None:
        """Unpatch the libraries, export what is still queued, and stop the provider."""
        global _current, enabled
        for instrumentor in self.instrumentors:
            instrumentor.uninstrument()
        # pymongo has no way to remove a listener from a client: clients made while on keep a disabled one.
        self.mongo_listener.is_enabled = False
        if _current is self:
            _current, enabled = None, False
        self.provider.shutdown()


_current: Tracing | None = None


def configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard OTEL_* variables ask for traces exported over OTLP."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def current() -> Tracing | None:
    """The installed tracing, or None when traces are off."""
    return _current


def install(*, exporter: SpanExporter | None = None) -> Tracing:
    """Install tracing for this process: `exporter` (tests: an in-memory one, exported synchronously) or
    the OTLP/HTTP exporter configured from the environment, batched."""
    global _current, enabled
    if _current is not None:
        raise RuntimeError("tracing is already installed")
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.pymongo import CommandTracer
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    # The sampler (OTEL_TRACES_SAMPLER, default parentbased_always_on) comes from the environment too.
    provider = TracerProvider(resource=_resource(), shutdown_on_exit=False)
    if exporter is None:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Statements are recorded with their $n placeholders and Redis commands as "GET ?": never parameter values.
    instrumentors: list[Any] = [AsyncPGInstrumentor(capture_parameters=False), RedisInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    # PymongoInstrumentor registers one process-wide listener bound to the first provider forever; a listener
    # per client (its command names only, no documents) follows this provider.
    mongo_listener = CommandTracer(provider.get_tracer("opentelemetry.instrumentation.pymongo"))
    _current = Tracing(
        provider=provider,
        tracer=provider.get_tracer(INSTRUMENTATION_NAME, __version__),
        instrumentors=instrumentors,
        mongo_listener=mongo_listener,
    )
    enabled = True
    return _current


def install_from_env() -> Tracing | None:
    """Install tracing when the environment configures an endpoint and nothing is installed yet; None otherwise."""
    if _current is not None or not configured():
        return None
    tracing = install()
    log.info("tracing on: exporting spans over OTLP/HTTP")
    return tracing


def mongo_listeners() -> list[Any]:
    """Command listeners for a new MongoDB client: pymongo's tracer while tracing is on."""
    return [_current.mongo_listener] if _current is not None else []


def middleware() -> list[Middleware]:
    """The W3C trace-context middleware while tracing is on (outermost), nothing otherwise."""
    return [Middleware(TraceContextMiddleware)] if _current is not None else []


class TraceContextMiddleware:
    """Makes the caller's span (`traceparent`, `tracestate`, `baggage`: OTEL_PROPAGATORS) the current parent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        carrier = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers") or ()}
        token = otel_context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def _resource() -> Any:
    from opentelemetry.sdk.resources import Resource

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; without them the service is "taskboard".
    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    return resource


def _otlp_exporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    for name in _PROTOCOL_VARIABLES:
        protocol = os.environ.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            log.warning("%s=%s is not supported: spans are exported as http/protobuf", name, protocol)
    return OTLPSpanExporter()
