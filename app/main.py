"""create_app(): the Starlette application with its lifespan (stores opened in order, closed in reverse)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from app import tracing
from app.graphql.graphiql import graphiql_asset
from app.graphql.view import make_graphql_app
from app.health import live, ready_endpoint
from app.http import access_log
from app.http.middleware import edge_middleware
from app.http.websocket_frames import WebSocketFrames
from app.logs import configure_logging
from app.gc_tuning import tune_for_serving
from app import metrics, schema
from app.settings import Settings, get_settings
from app.runtime import running
from app.stores import mongo_log, query_log

log = logging.getLogger("taskboard")


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI app; stores are opened by its lifespan."""
    settings = settings or get_settings()
    configure_logging(settings)
    query_log.configure(log_all=settings.app_env == "dev", slow_ms=settings.slow_query_ms)
    mongo_log.configure(slow_ms=settings.slow_query_ms)
    metrics.configure(settings)
    # Before the schema is built and the stores are opened: both look for it. None when off or already on.
    installed_tracing = tracing.install_from_env()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            async with running(settings, schema.PARTS), metrics.serving():
                tune_for_serving()
                log.info("taskboard ready (env=%s)", settings.app_env)
                yield
        finally:
            if installed_tracing is not None:
                # Exports what is still queued (bounded by OTEL_EXPORTER_OTLP_TIMEOUT), off the event loop.
                await asyncio.to_thread(installed_tracing.shutdown)
        log.info("taskboard stopped")
        access_log.flush()

    graphql_app = make_graphql_app(settings, schema.build(settings))
    routes = [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready_endpoint(settings), methods=["GET"]),
        Route("/graphql", graphql_app, methods=None),  # the view answers other methods with a JSON 405
        WebSocketRoute("/graphql", graphql_app),
    ]
    if not settings.is_prod:  # GraphiQL's assets, like GraphiQL itself, only outside prod
        routes.append(Route("/graphql/static/{version}/{name:path}", graphiql_asset, methods=["GET"]))
    if settings.metrics_port is None:  # else `taskboard serve` answers it on METRICS_PORT only
        routes.append(Route("/metrics", metrics.metrics_endpoint(settings), methods=["GET"]))
    # WebSocketFrames first: it must see uvicorn's own ASGI send (app.http.websocket_frames).
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(WebSocketFrames), *tracing.middleware(), *edge_middleware(settings)])
    app.state.settings = settings
    return app
