"""Names of cache entries and generation stamps; domain keys.py modules build theirs from these.

Every entry names the stamps it depends on. A write replaces those stamps' values (see
`stamps_to_bump`), and an entry is served only while every stamp still holds the value it was filled
under, so invalidation never needs to find entries (no KEYS/SCAN) and is O(changed ids).

Stamps per entity, from narrow to wide:
- `gen:<entity>:id:<id>`: one row; bumped by writes of that row.
- `gen:<entity>:part:<dimension>:<value>`: one slice of the entity's lists (e.g. the tasks in status
  TODO); bumped by writes that name the slice among their `Change.partitions` (old and new values).
- `gen:<entity>:part`: every slice; bumped by writes whose partitions are unknown or that name no ids.
- `gen:<entity>:all`: every row; bumped by writes that name no ids.
- `gen:<entity>`: everything of the entity; bumped by every write of it.
An entry over a slice depends on its slices' stamps and on `gen:<entity>:part`, never on `gen:<entity>`:
that is what lets it survive writes elsewhere.

Bump `VERSION` whenever a cached value's shape changes: old entries then become unreachable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import orjson

from app.common.changes import Change, Entity

VERSION = "v3"  # v2: task rows carry creator_id; v3: users cached as plain records
PREFIX = f"tb:{VERSION}"


@dataclass(frozen=True)
class CacheKey:
    """An entry's Redis key and the stamp keys whose values must not have changed since it was filled."""

    key: str
    stamps: tuple[str, ...]


def _name(entity: Entity | str) -> str:
    return entity.value if isinstance(entity, Enum) else str(entity)


def epoch() -> str:
    """The global stamp every entry depends on; bumped after an outage swallowed an invalidation."""
    return f"{PREFIX}:epoch"


def collection_stamp(entity: Entity | str) -> str:
    """Changes on any write of the entity: lists, pages, counts and aggregates depend on it."""
    return f"{PREFIX}:gen:{_name(entity)}"


def bulk_stamp(entity: Entity | str) -> str:
    """Changes on writes that name no ids (seeding, data migrations): every row entry depends on it."""
    return f"{PREFIX}:gen:{_name(entity)}:all"


def row_stamp(entity: Entity | str, entity_id: object) -> str:
    """Changes on writes of this one row."""
    return f"{PREFIX}:gen:{_name(entity)}:id:{entity_id}"


def partitions_stamp(entity: Entity | str) -> str:
    """Changes on writes that do not say which slices they touched (or name no ids): every slice entry
    depends on it."""
    return f"{PREFIX}:gen:{_name(entity)}:part"


def partition_stamp(entity: Entity | str, dimension: str, value: str) -> str:
    """Changes on writes that moved a row into, out of or within this slice (`Change.partitions`)."""
    return f"{PREFIX}:gen:{_name(entity)}:part:{dimension}:{value}"


def over_partitions(entity: Entity | str, pairs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The stamps of an entry that holds only rows of these slices (the slices cover every row it may hold)."""
    return (partitions_stamp(entity), *(partition_stamp(entity, dimension, value) for dimension, value in pairs))


def stamp_expires(stamp: str) -> bool:
    """Whether a stamp carries a TTL, which also makes it evictable under Redis' volatile-* policies.

    Per-row and per-slice stamps do (one per row ever written, one per assignee: unbounded). The epoch and
    the per-entity collection, bulk and all-slices stamps (a handful) have none: evicting one would make
    every entry of an entity a miss at once.
    Losing any stamp only ever causes misses: the next reader creates a fresh value no entry was filled under.
    """
    rest = stamp.removeprefix(f"{PREFIX}:gen:")
    return ":id:" in rest or ":part:" in rest


def row(entity: Entity | str, entity_id: object, *, part: str = "", also: Iterable[str] = ()) -> CacheKey:
    """An entry about one row (`part` names a view of it, e.g. its tags); `also` adds other stamps."""
    suffix = f":{part}" if part else ""
    return CacheKey(
        f"{PREFIX}:{_name(entity)}:{entity_id}{suffix}",
        (bulk_stamp(entity), row_stamp(entity, entity_id), *also),
    )


def collection(
    entity: Entity | str,
    name: str,
    params: object = None,
    *,
    also: Iterable[str] = (),
    over: Iterable[str] | None = None,
) -> CacheKey:
    """An entry about many rows (a page, a list, a count), one per distinct `params`.

    It depends on the whole collection, or with `over` (see `over_partitions`) only on the slices that
    hold every row it may contain; `also` adds other stamps.
    """
    stamps = (collection_stamp(entity),) if over is None else tuple(over)
    return CacheKey(f"{PREFIX}:{_name(entity)}:{name}:{digest(params)}", (*stamps, *also))


def fill_lock(entry_key: str, stamp_values: Iterable[str]) -> str:
    """The lock one instance holds while it fills an entry for these stamp values (others wait for it)."""
    return f"{PREFIX}:lock:{digest([entry_key, *stamp_values])}"


def stamps_to_bump(change: Change) -> list[str]:
    """The stamps a committed change invalidates: its rows (or all rows when ids=()), the slices it names
    (or all slices when it names none or no ids), and its collection."""
    entity = change.entity
    if not change.ids:
        return [bulk_stamp(entity), partitions_stamp(entity), collection_stamp(entity)]
    rows = [row_stamp(entity, entity_id) for entity_id in change.ids]
    if change.partitions is None:
        slices = [partitions_stamp(entity)]
    else:
        slices = list(dict.fromkeys(partition_stamp(entity, *pair) for pair in change.partitions))
    return [*rows, *slices, collection_stamp(entity)]


def digest(params: object) -> str:
    """A short stable hash of query parameters (dict key order and set order do not matter)."""
    encoded = orjson.dumps(params, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=_jsonable)
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


def _jsonable(value: object) -> object:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return str(value)
