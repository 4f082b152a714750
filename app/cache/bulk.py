"""Many keys set (or deleted) in one command: a Lua script per hash slot instead of a pipeline of SETs.

redis-py builds, packs and parses each command of a pipeline in Python (~25 us of this process's CPU per
command): a create's invalidation replaces ~40 stamps (its slices, text buckets and tags), ~1 ms per write.
One script call carries them all: its arguments are packed in C (hiredis) and Redis runs the loop. On a
Redis Cluster the keys are grouped by slot (a script may only touch the keys of one slot) and the groups
sent concurrently, one script call each.

Both scripts are plain SETs as the pipelines sent them: the same values, expiries and NX/GET semantics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from redis.commands.core import AsyncScript

from app.stores.redis import Client, is_cluster

# KEYS: n keys to set, then keys to delete; ARGV: n, then value and expiry in seconds (0: none) per key.
_SET_ALL = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local ttl = tonumber(ARGV[2 * i + 1])
  if ttl > 0 then
    redis.call('SET', KEYS[i], ARGV[2 * i], 'EX', ttl)
  else
    redis.call('SET', KEYS[i], ARGV[2 * i])
  end
end
for i = n + 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return n
"""

# SET NX GET per key (the value readers agree on: the one already there, else ARGV[1]); ARGV: the value, then
# the expiry in seconds (0: none) per key. Answers each key's previous value (nil where it was absent).
_SET_ABSENT = """
local out = {}
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[i + 1])
  if ttl > 0 then
    out[i] = redis.call('SET', key, ARGV[1], 'NX', 'GET', 'EX', ttl)
  else
    out[i] = redis.call('SET', key, ARGV[1], 'NX', 'GET')
  end
end
return out
"""

Value = str | bytes
E = TypeVar("E")


class Bulk:
    """The two scripts, registered on one client."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis
        self._cluster = is_cluster(redis)
        self._set_all: AsyncScript = redis.register_script(_SET_ALL)  # type: ignore[assignment]
        self._set_absent: AsyncScript = redis.register_script(_SET_ABSENT)  # type: ignore[assignment]

    async def set_all(self, items: Sequence[tuple[str, Value, int | None]], delete: Sequence[str] = ()) -> None:
        """SET each (name, value, expiry in seconds or None) and DEL `delete`: one script call per slot."""
        sets, deletes = self._by_slot(items, lambda item: item[0]), self._by_slot(delete, lambda name: name)
        await asyncio.gather(*(self._set_group(sets.get(slot, []), deletes.get(slot, [])) for slot in sets | deletes))

    async def set_absent(self, names: Sequence[str], value: str, ttls: Sequence[int | None]) -> list[bytes | None]:
        """SET NX GET of `value` on each name (with its expiry): each name's previous value, None where absent."""
        groups = list(self._by_slot(list(zip(names, ttls, strict=True)), lambda pair: pair[0]).values())
        answers = await asyncio.gather(*(
            self._set_absent(keys=[name for name, _ in group], args=[value, *(ttl or 0 for _, ttl in group)])
            for group in groups
        ))
        previous = {name: old for group, answer in zip(groups, answers, strict=True)
                    for (name, _), old in zip(group, answer, strict=True)}
        return [previous[name] for name in names]

    async def _set_group(self, sets: list[tuple[str, Value, int | None]], deletes: list[str]) -> None:
        args: list[Value | int] = [len(sets)]
        for _, value, ttl in sets:
            args += [value, ttl or 0]
        await self._set_all(keys=[name for name, _, _ in sets] + deletes, args=args)

    def _by_slot(self, entries: Sequence[E], name_of: Callable[[E], str]) -> dict[int, list[E]]:
        """Entries by the hash slot of their key name (one group, slot 0, on a single node)."""
        groups: dict[int, list[E]] = {}
        for entry in entries:
            slot = self.redis.keyslot(name_of(entry)) if self._cluster else 0  # type: ignore[union-attr]
            groups.setdefault(slot, []).append(entry)
        return groups
