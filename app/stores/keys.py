"""The Redis keys of read routing: where each principal's last writes are, and how far every write has gone.

Built nowhere else, so a cluster key layout (hash tags) changes them here only. Each is one key read or
written on its own (never in a multi-key command with another), so any slot works for any of them.
"""

from __future__ import annotations

PREFIX = "tb:route"


def wal_written_by(actor: str) -> str:
    """String: the WAL position (decimal) after the actor's last PostgreSQL commit; short TTL."""
    return f"{PREFIX}:wal:{actor}"


def wal_written() -> str:
    """Sorted set, one member: the highest WAL position any instance saw after a commit (ZADD GT); no TTL."""
    return f"{PREFIX}:wal"


def documents_written_by(actor: str) -> str:
    """String: set while the actor's last MongoDB write may not have reached every secondary; short TTL."""
    return f"{PREFIX}:docs:{actor}"
