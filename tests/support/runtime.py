"""The process-wide cache and events runtime as tests need it."""

from __future__ import annotations

from app import cache, events
from app.schema import PARTS
from app.settings import Settings
from app.stores import redis


async def ensure_runtime(settings: Settings) -> None:
    """Reinstall the process-wide cache and events if a test uninstalled them (tests of install itself do)."""
    if redis._client is None:  # the stores are not open in this session: nothing to reinstall on
        return
    if not cache.stats():
        await cache.install(settings, redis.client())
    if not events.stats():
        await events.install(settings, redis.client(), streams=PARTS.streams)


async def remove_runtime() -> None:
    """Uninstall the process-wide cache and events (tests that build their own instances)."""
    await events.uninstall()
    await cache.uninstall()
