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

Slots (Redis Cluster; hash tags are harmless on one node, so both use these names). Every name starts with
`tb:v4:{<group>}`: keys of one group share a hash slot. An entity's home group `{task}` holds its wide
stamps (collection, slices, all slices) and its list entries, so a list is checked in one slot. Its rows
spread over `ROW_SHARDS` groups `{task:<n>}` (n from the id): a row entry, its row stamp and the shard's copy
of the bulk stamp share one. Each group has its own copy of the epoch; an epoch bump replaces every copy
(`epochs()`), a bulk write every copy of the bulk stamp. Entries that also depend on stamps of other groups
(a list filtered by tag names on the tag collection, a user's task counts on assignee slices) are read with
one MGET per slot, sent to all nodes at once: one round trip, not atomic across slots (app/cache/core.py
says why it need not be). A fill lock lives in its entry's group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import orjson

from app.common.changes import Change, Entity
from app.stores import redis as store

VERSION = "v4"  # v2: task rows carry creator_id; v3: users cached as plain records; v4: hash-tagged groups
PREFIX = f"tb:{VERSION}"
ROW_SHARDS = 16  # row groups per entity (and whole-response groups): spread over every node of a cluster
RESPONSES = "response"  # the groups of recorded whole-response entries (get_recorded)
# Row keys are built per id on every batch (a page of 50 rows, their tags, their assignees): the domains' key
# builders for rows keep this many ids each (bounded; CacheKey is immutable).
KEYS_MEMO = 16_384


@dataclass(frozen=True)
class CacheKey:
    """An entry's Redis key and the stamp keys whose values must not have changed since it was filled (the
    first is always its group's copy of the epoch)."""

    key: str
    stamps: tuple[str, ...]


def _name(entity: Entity | str) -> str:
    return entity.value if isinstance(entity, Enum) else str(entity)


def _home(entity: Entity | str) -> str:
    return f"{PREFIX}:{{{_name(entity)}}}"


def _shard(kind: Entity | str, n: int) -> str:
    return f"{PREFIX}:{{{_name(kind)}:{n}}}"


def shard_of(value: object) -> int:
    """Which of the ROW_SHARDS groups a row id (or a digest) falls in; stable across processes."""
    return store.shard_of(str(value), ROW_SHARDS)


def _row_group(entity: Entity | str, entity_id: object) -> str:
    return _shard(entity, shard_of(entity_id))


def group_of(name: str) -> str:
    """The group (hash-tagged prefix) a key or stamp name belongs to."""
    return name[: name.index("}") + 1]


def groups() -> list[str]:
    """Every group an entry or stamp can be in: each entity's home and row shards, the response shards."""
    kinds: list[Entity | str] = [*Entity, RESPONSES]
    return [*(_home(entity) for entity in Entity), *(_shard(kind, n) for kind in kinds for n in range(ROW_SHARDS))]


def epoch(group: str | None = None) -> str:
    """The group's copy of the global stamp every entry depends on (bumped, every copy, after an outage
    swallowed an invalidation). Without a group: the tasks' home copy (tests read it)."""
    return f"{group or _home(Entity.TASK)}:epoch"


def epochs() -> list[str]:
    """Every copy of the epoch: what an epoch bump replaces."""
    return [epoch(group) for group in groups()]


def collection_stamp(entity: Entity | str) -> str:
    """Changes on any write of the entity: lists, pages, counts and aggregates depend on it."""
    return f"{_home(entity)}:gen"


def _bulk_stamp_in(group: str) -> str:
    return f"{group}:gen:all"


def bulk_stamp(entity: Entity | str, entity_id: object) -> str:
    """Changes on writes that name no ids (seeding, data migrations): every row entry depends on it. One copy
    per row shard, next to the rows (this is the copy of `entity_id`'s shard); such a write bumps them all."""
    return _bulk_stamp_in(_row_group(entity, entity_id))


def bulk_stamps(entity: Entity | str) -> list[str]:
    """Every row shard's copy of the bulk stamp."""
    return [_bulk_stamp_in(_shard(entity, n)) for n in range(ROW_SHARDS)]


def row_stamp(entity: Entity | str, entity_id: object, part: str = "") -> str:
    """Changes on writes of this one row (with `part`: on writes of that part of it only, see `row`)."""
    suffix = f":{part}" if part else ""
    return f"{_row_group(entity, entity_id)}:gen:id:{entity_id}{suffix}"


def partitions_stamp(entity: Entity | str) -> str:
    """Changes on writes that do not say which slices they touched (or name no ids): every slice entry
    depends on it."""
    return f"{_home(entity)}:gen:part"


def partition_stamp(entity: Entity | str, dimension: str, value: str) -> str:
    """Changes on writes that moved a row into, out of or within this slice (`Change.partitions`)."""
    return f"{_home(entity)}:gen:part:{dimension}:{value}"


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
    rest = stamp[len(group_of(stamp)) :]
    return rest.startswith((":gen:id:", ":gen:part:"))


def row(entity: Entity | str, entity_id: object, *, part: str = "", also: Iterable[str] = ()) -> CacheKey:
    """An entry about one row, or with `part` about a part of it kept apart from its row (e.g. a task's
    tags): that follows the row's writes and the writes of that part (`Change.part`), which leave the row's
    own entry alone. `also` adds other stamps."""
    suffix = f":{part}" if part else ""
    group = _row_group(entity, entity_id)
    parts = (row_stamp(entity, entity_id, part),) if part else ()
    return CacheKey(
        f"{group}:{entity_id}{suffix}",
        (epoch(group), bulk_stamp(entity, entity_id), row_stamp(entity, entity_id), *parts, *also),
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
    home = _home(entity)
    return CacheKey(f"{home}:{name}:{digest(params)}", (epoch(home), *stamps, *also))


def recorded(name: str, params: object, fallback: Iterable[str]) -> CacheKey:
    """A whole-response entry (`get_recorded`) in one of the response groups, with its fallback stamps."""
    key = digest(params)
    group = _shard(RESPONSES, shard_of(key))
    return CacheKey(f"{group}:{name}:{key}", (epoch(group), *fallback))


def fill_lock(entry_key: str, stamp_values: Iterable[str]) -> str:
    """The lock one instance holds while it fills an entry for these stamp values (others wait for it).

    Spelled out, not hashed: the whole-response lookup script builds the same name from the values it reads
    (`FILL_LOCK_SEPARATOR` between them) and takes the lock in the same round trip. It shares the entry's slot.
    """
    return f"{entry_key}:lock:{FILL_LOCK_SEPARATOR.join(stamp_values)}"


FILL_LOCK_SEPARATOR = "."


def stamps_to_bump(change: Change) -> list[str]:
    """The stamps a committed change invalidates: its rows or the part of them it names (all rows when
    ids=()), the slices it names (or all slices when it names none or no ids), and its collection."""
    entity = change.entity
    if not change.ids:
        return [*bulk_stamps(entity), partitions_stamp(entity), collection_stamp(entity)]
    rows = [row_stamp(entity, entity_id, change.part) for entity_id in change.ids]
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
