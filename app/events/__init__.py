"""Task change events over Redis pub/sub: a publisher (change listener) and the per-process hub.

In a subscription resolver:

    from app import events
    from app.events.filters import TaskFilter, matches, may_match

    async with events.task_events() as stream:
        async for item in stream:
            if isinstance(item, events.SubscriberNotice):
                ...  # DISCONNECTED / RECONNECTED: tell the client to re-read; DROPPED: the stream ends next
            elif may_match(task_filter, item):
                ...  # load the task (item.task_id; None = many changed), check matches(...), yield it

The app lifespan calls `install` after the cache's install (so caches are invalidated before events go
out) and `uninstall` on shutdown, which ends every open stream.
"""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio import Redis

from app.common import changes
from app.events.hub import Hub, SubscriberNotice, Subscription
from app.events.tasks import TaskEvent, TaskPublisher, decode_task_events
from app.settings import Settings
from app.tasks import keys as task_keys

__all__ = ["INSTANCE_ID", "Hub", "SubscriberNotice", "Subscription", "TaskEvent", "TaskPublisher", "current_hub",
           "install", "stats", "task_events", "uninstall"]

# Names this process in event payloads (`origin`) and on its Redis connection.
INSTANCE_ID = uuid.uuid4().hex[:12]

_hub: Hub | None = None
_publisher: TaskPublisher | None = None


async def install(settings: Settings, redis: Redis, *, listen: bool = True) -> None:
    """Publish committed task changes through `redis`; with listen, also start the hub for subscribers."""
    global _hub, _publisher
    await uninstall()
    _publisher = TaskPublisher(redis, timeout_s=settings.redis_timeout_s, origin=INSTANCE_ID)
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


def task_events(hub: Hub | None = None) -> Subscription[TaskEvent]:
    """A subscription to task change events, one TaskEvent per changed task (use with `async with`)."""
    hub = hub or current_hub()
    return hub.subscribe(task_keys.task_events(hub.db), decode_task_events)


def stats() -> dict[str, Any]:
    """Hub and publisher counters (empty when not installed), for a /metrics endpoint."""
    result: dict[str, Any] = {}
    if _hub is not None:
        result.update(_hub.stats())
    if _publisher is not None:
        result.update(_publisher.stats())
    return result
