"""Opaque, time-ordered, collision-free ids: UUIDv7 (RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit Unix ms timestamp, then a 12-bit counter (monotonic within a ms), then 62 random bits."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave headroom before overflow
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


def canonical_uuid(value: str) -> str:
    """The canonical spelling of a UUID (`uuid.UUID` also reads upper case, braces, `urn:uuid:`, no
    hyphens); anything else as it is. Cache keys and stamps of one row must be spelled one way."""
    parsed = parse_uuid(value)
    return value if parsed is None else str(parsed)


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID in value, or None when value is not a UUID (callers turn that into not-found)."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
