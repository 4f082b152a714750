"""Change events over Redis pub/sub: a publisher (change listener) and the per-process hub. No domain here:
each domain declares its streams (`Stream`: which changes, the channel its keys.py names, the payload codec)
and the composition root passes them to `install`.

In a subscription resolver (app.tasks.events.task_events is `events.subscribe(TASK_EVENTS)`):

    async with task_events() as stream:
        async for item in stream:
            if isinstance(item, events.SubscriberNotice):
                ...  # DISCONNECTED / RECONNECTED: tell the client to re-read; DROPPED: the stream ends next
            else:
                ...  # a decoded event

The app lifespan calls `install` after the cache's install (so caches are invalidated before events go
out) and `uninstall` on shutdown, which ends every open stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis

from app.common import changes
from app.events.hub import ArrivalHook, Hub, InlineStep, SubscriberNotice, Subscription
from app.events.publisher import Publisher, Stream
from app.settings import Settings

__all__ = ["INSTANCE_ID", "ArrivalHook", "Hub", "Publisher", "Stream", "SubscriberNotice", "Subscription", "current_hub",
           "install", "stats", "subscribe", "uninstall"]

T = TypeVar("T")

# Names this process in event payloads (`origin`) and on its Redis connection.
INSTANCE_ID = uuid.uuid4().hex[:12]

_hub: Hub | None = None
_publisher: Publisher | None = None


async def install(settings: Settings, redis: Redis, *, streams: Sequence[Stream], listen: bool = True) -> None:
    """Publish the committed changes `streams` carry through `redis`; with listen, also start the hub."""
    global _hub, _publisher
    await uninstall()
    _publisher = Publisher(redis, streams, timeout_s=settings.redis_timeout_s, origin=INSTANCE_ID)
    changes.add_listener(_publisher.publish)
    if listen:
        _hub = Hub.from_settings(settings, name=f"taskboard-hub-{INSTANCE_ID}")
        await _hub.start()


async def uninstall() -> None:
    """Stop publishing and close the hub (every subscription's stream ends)."""
    global _hub, _publisher
    if _publisher is not None:
        changes.remove_listener(_publisher.publish)
        _publisher = None
    if _hub is not None:
        hub, _hub = _hub, None
        await hub.close()


def current_hub() -> Hub:
    """The installed hub."""
    if _hub is None:
        raise RuntimeError("the events hub is not installed (app.events.install runs in the app lifespan)")
    return _hub


def subscribe(
    stream: Stream[T], hub: Hub | None = None, *, on_arrival: ArrivalHook | None = None
) -> Subscription[T]:
    """A subscription to one stream's events, decoded (use with `async with`); see Hub.subscribe for on_arrival."""
    hub = hub or current_hub()
    return hub.subscribe(stream.channel(hub.db), stream.decode, on_arrival=on_arrival)


def stats() -> dict[str, Any]:
    """Hub and publisher counters (empty when not installed), for a /metrics endpoint."""
    result: dict[str, Any] = {}
    if _hub is not None:
        result.update(_hub.stats())
    if _publisher is not None:
        result.update(_publisher.stats())
    return result
