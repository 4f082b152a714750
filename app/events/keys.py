"""Pub/sub channel names (domain keys.py modules name theirs through `channel`).

Redis pub/sub ignores the database number, so channels carry it: dev (db 0) and every test database
get separate event streams on one server, as their keys are separate.

Every channel of one database shares one hash tag, `{events:db<n>}`: on a Redis Cluster they are sharded
channels (SPUBLISH/SSUBSCRIBE) of one slot, so a hub reads all of them, the control channel included, over
one connection to the one node that serves the slot (app/events/hub.py).
"""

from __future__ import annotations

from app.cache.keys import PREFIX


def channel(db: int, name: str) -> str:
    """The channel `name` for the Redis database `db`."""
    return f"{PREFIX}:{{events:db{db}}}:{name}"


def control(db: int) -> str:
    """Always subscribed by the hub, so its connection is never without a subscription."""
    return channel(db, "_control")
