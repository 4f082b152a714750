"""The publisher: a change listener that PUBLISHes committed changes on their streams' channels (SPUBLISH
on a Redis Cluster: the channels are sharded, app/events/hub.py).

It knows no domain: each `Stream` names the entity whose changes it carries, its channel (built by the
domain's keys.py) and its payload codec.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from app.cache.link import REDIS_ERRORS, RateLimitedWarning
from app.common.changes import Change, Entity
from app.stores.redis import Client, LateTimeout, bounded, db_of, is_cluster

log = logging.getLogger("taskboard.events")

T = TypeVar("T")


class Encode(Protocol):
    def __call__(self, change: Change, *, origin: str, at: datetime) -> bytes: ...


@dataclass(frozen=True, eq=False)
class Stream(Generic[T]):
    """One kind of event: every committed change of `entity`, published on `channel(db)` as
    `encode(change, origin=..., at=...)` (one PUBLISH per change), read back by `decode` (items of T)."""

    entity: Entity
    channel: Callable[[int], str]
    encode: Encode
    decode: Callable[[bytes], Iterable[T]]


class Publisher:
    """Change listener: PUBLISHes each committed change of a stream's entity on its channel, in one round trip."""

    def __init__(self, redis: Client, streams: Sequence[Stream], *, timeout_s: float, origin: str) -> None:
        self.redis = redis
        db = db_of(redis)  # channels are scoped by it
        self._sharded = is_cluster(redis)
        self._routes = [(stream.entity, stream.channel(db), stream.encode) for stream in streams]
        self.origin = origin
        self._timeout_s = timeout_s
        self._warn = RateLimitedWarning(log, 10.0)
        self.published = 0
        self.publish_errors = 0
        # Changes whose publish timed out only because this process's event loop was late (LateTimeout): they may
        # well have gone out, and Redis is not taken for down (no warning).
        self.publish_late_timeouts = 0

    async def publish(self, changes: list[Change]) -> None:
        """Publish the changes among `changes` that a stream carries; on Redis failure log, count and carry on
        (a time-out the event loop handled late is only counted)."""
        messages = [
            (channel, encode, change)
            for change in changes
            for entity, channel, encode in self._routes
            if change.entity is entity
        ]
        if not messages:
            return
        now = datetime.now(UTC)
        if len(messages) == 1:  # the usual write: one command, without a pipeline's own cost (~40 us of CPU)
            channel, encode, change = messages[0]
            send = self.redis.spublish if self._sharded else self.redis.publish
            sent = send(channel, encode(change, origin=self.origin, at=now))
        else:
            pipe = self.redis.pipeline(transaction=False)
            send = pipe.spublish if self._sharded else pipe.publish
            for channel, encode, change in messages:
                send(channel, encode(change, origin=self.origin, at=now))
            sent = pipe.execute()
        try:
            await bounded(sent, self._timeout_s)
        except LateTimeout:
            self.publish_late_timeouts += len(messages)
            return
        except REDIS_ERRORS as exc:
            self.publish_errors += len(messages)
            self._warn("events: publishing %d change(s) failed (%s); subscribers miss them", len(messages), exc)
            return
        self.published += len(messages)

    def stats(self) -> dict[str, int]:
        return {
            "published": self.published,
            "publish_errors": self.publish_errors,
            "publish_late_timeouts": self.publish_late_timeouts,
        }
