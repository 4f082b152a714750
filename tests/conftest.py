"""Test set-up: connects to the services scripts/services started (it starts nothing itself)."""

from __future__ import annotations

import os

# Defaults match scripts/test-env so that a plain `pytest` works once the services are up.
os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DATABASE_URL", "postgres://taskboard:taskboard@127.0.0.1:5432/taskboard_test")
os.environ.setdefault("MONGODB_URL", "mongodb://127.0.0.1:27017/taskboard_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("AERICH_NO_TORTOISE_V1_WARNING", "1")
# The whole suite acts as one admin: a production-sized budget would rate-limit it (tests of the limiter set theirs).
os.environ.setdefault("RATE_LIMIT_POINTS", "100000000")

from collections.abc import AsyncIterator  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

from app.main import create_app  # noqa: E402
from app.runtime import running  # noqa: E402
from app.schema import PARTS  # noqa: E402
from app.settings import Settings, load_settings  # noqa: E402
from tests.support.auth import admin_headers  # noqa: E402
from tests.support.runtime import ensure_runtime  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
async def stores(settings: Settings) -> AsyncIterator[None]:
    """PostgreSQL, MongoDB and Redis opened once for the in-process tests, with the cache and events installed."""
    async with running(settings, PARTS):
        yield


@pytest.fixture(scope="session")
async def app(settings: Settings, stores: None):
    return create_app(settings)


@pytest.fixture
async def client(app, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client against the in-process app (stores already open), signed in as an admin.

    Tests of access control replace or drop `client.headers["Authorization"]`.
    """
    await ensure_runtime(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=admin_headers()
    ) as http:
        yield http
