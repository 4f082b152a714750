"""Task change events: published after commit (one PUBLISH per Change), decoded per task on the way out."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from app.cache.link import REDIS_ERRORS, RateLimitedWarning
from app.common.changes import Change, ChangeKind, Entity
from app.tasks import keys as task_keys

log = logging.getLogger("taskboard.events")

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class TaskEvent:
    """One task changed. task_id None: many tasks changed at once (seeding, data migrations): re-read."""

    kind: ChangeKind
    task_id: str | None
    fields: tuple[str, ...]
    snapshot: dict[str, Any] | None
    origin: str
    at: datetime


def encode_change(change: Change, *, origin: str, at: datetime) -> bytes:
    """The published payload of one task change."""
    return orjson.dumps(
        {
            "v": PAYLOAD_VERSION,
            "kind": change.kind.value,
            "ids": [str(task_id) for task_id in change.ids],
            "fields": list(change.fields),
            "snapshot": change.snapshot,
            "origin": origin,
            "at": int(at.timestamp() * 1000),
        },
        default=str,
    )


def decode_task_events(payload: bytes) -> list[TaskEvent]:
    """One TaskEvent per task id of a published change (one with task_id None when it named none)."""
    body = orjson.loads(payload)
    ids: list[str | None] = list(body["ids"]) or [None]
    snapshot = body.get("snapshot")
    common = {
        "kind": ChangeKind(body["kind"]),
        "fields": tuple(body.get("fields") or ()),
        "origin": body.get("origin", ""),
        "at": datetime.fromtimestamp(body["at"] / 1000, UTC),
    }
    return [TaskEvent(task_id=task_id, snapshot=_snapshot_of(snapshot, task_id, len(ids)), **common) for task_id in ids]


def _snapshot_of(snapshot: Any, task_id: str | None, count: int) -> dict[str, Any] | None:
    # A change about one task carries that task's snapshot; a multi-task one may key them by id.
    if not isinstance(snapshot, dict):
        return None
    if count == 1:
        return snapshot
    value = snapshot.get(task_id) if task_id is not None else None
    return value if isinstance(value, dict) else None


def db_of(redis: Redis) -> int:
    """The database number a client talks to (channels are scoped by it)."""
    return int(redis.connection_pool.connection_kwargs.get("db", 0))


class TaskPublisher:
    """Change listener: PUBLISHes each committed task change on the task channel, in one round trip."""

    def __init__(self, redis: Redis, *, timeout_s: float, origin: str) -> None:
        self.redis = redis
        self.channel = task_keys.task_events(db_of(redis))
        self.origin = origin
        self._timeout_s = timeout_s
        self._warn = RateLimitedWarning(log, 10.0)
        self.published = 0
        self.publish_errors = 0

    async def publish(self, changes: list[Change]) -> None:
        """Publish the task changes among `changes`; on Redis failure log, count and carry on."""
        task_changes = [change for change in changes if change.entity is Entity.TASK]
        if not task_changes:
            return
        now = datetime.now(UTC)
        pipe = self.redis.pipeline(transaction=False)
        for change in task_changes:
            pipe.publish(self.channel, encode_change(change, origin=self.origin, at=now))
        try:
            await asyncio.wait_for(pipe.execute(), self._timeout_s)
        except REDIS_ERRORS as exc:
            self.publish_errors += len(task_changes)
            self._warn("events: publishing %d task change(s) failed (%s); subscribers miss them", len(task_changes), exc)
            return
        self.published += len(task_changes)

    def stats(self) -> dict[str, int]:
        return {"published": self.published, "publish_errors": self.publish_errors}
