"""Read-through cache in Redis with exact invalidation by generation stamps (scheme: app/cache/keys.py).

An entry is `{"s": [stamp values it was filled under], "v": value}` (orjson). A read fetches the entry's
stamps (the first is its group's copy of the global epoch) and the entry in one MGET and serves the entry
only when its recorded stamp values equal the current ones. A fill records the values observed *before*
loading, so a write that commits during the load (and bumps a stamp after its commit) leaves the entry
unservable.

On a Redis Cluster that MGET is one per hash slot, sent to every node at once (app.stores.redis.mget), so
the stamps are not read at one instant. Exactness does not need that: stamp values never recur, so a stamp
that holds the value an entry recorded has not been replaced since the fill observed it, and every write
that finished its invalidation before this read began had replaced it before then.

A recorded entry (`get_recorded`, the whole-response cache) names its stamps itself: the ones every
cache read of the computation that filled it observed (app/cache/reads.py). Its first line lists their
names, its second their values, the rest is the value (orjson). One script reads the entry and the
current values of the stamps it names in one round trip on one node, and when it finds nothing to serve
takes the fill lock in the same call; on a cluster its stamps lie in many slots, so a lookup costs two round
trips (the entry with its fallback stamps, then the stamps it names) and the lock a third.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from redis.asyncio import Redis

from app.cache import keys, reads
from app.cache.bulk import Bulk
from app.cache.codec import JSON, Codec
from app.cache.flights import Flights, wait
from app.cache.same_turn import SameTurnReads
from app.cache.keys import FILL_LOCK_SEPARATOR, CacheKey
from app.cache.link import LateLoop, RateLimitedWarning, RedisLink, Unavailable
from app.common.changes import Change
from app.settings import Settings
from app.stores import redis as store

log = logging.getLogger("taskboard.cache")

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_MISS: Any = object()
_BLANK = re.compile(r"\s")  # stamp names and values are space-separated in a recorded entry
_POLL_FIRST_S = 0.01
_POLL_MAX_S = 0.05
# A recorded entry naming more stamps than this is stored under its fallback stamps instead (the lookup
# script passes the names to MGET as arguments, and Lua's stack is bounded).
MAX_RECORDED_STAMPS = 2000

# KEYS: the entry, its epoch copy, the fallback stamps (ARGV[1] of them), then the keys of an OnHit; ARGV[2]: the
# fill lock's expiry in ms (0: take none), ARGV[3..] the OnHit's arguments. Returns {their values} and, when every
# stamp the entry names still holds the value it records, the entry's value as a second element and on_hit's
# answer as a third (an OnHit's Lua defines on_hit; without one it answers nil, i.e. no third element). The
# comparison runs in Redis: only the value travels back. When the entry cannot be served and every fallback
# stamp exists, it also tries the fill lock for the values it read (keys.fill_lock spells the same name) and
# answers {values, false, false, 1 taken or 0 held by another} (with ARGV[2] = 0: no fourth element).
# The names come from the entry itself (and the lock's from the values), so this runs on one node only (a
# cluster script may touch one slot): Cache._look_up_across_slots does the lookup in two round trips, and runs
# neither an OnHit nor the lock.
_LOOKUP = """
local n = tonumber(ARGV[1])
local observed = redis.call('MGET', unpack(KEYS, 2, n + 1))
local function missed()
  local lock_ms = tonumber(ARGV[2])
  if lock_ms == 0 then return {observed} end
  for i = 1, n do
    if not observed[i] then return {observed} end
  end
  local lock = KEYS[1] .. ':lock:' .. table.concat(observed, '""" + FILL_LOCK_SEPARATOR + """')
  local taken = redis.call('SET', lock, '1', 'NX', 'PX', lock_ms) and 1 or 0
  return {observed, false, false, taken}
end
local entry = redis.call('GET', KEYS[1])
if not entry then return missed() end
local first = string.find(entry, '\\n', 1, true)
if not first then return missed() end
local second = string.find(entry, '\\n', first + 1, true)
if not second then return missed() end
local names, values = {}, {}
for name in string.gmatch(string.sub(entry, 1, first - 1), '%S+') do names[#names + 1] = name end
for value in string.gmatch(string.sub(entry, first + 1, second - 1), '%S+') do values[#values + 1] = value end
if #names ~= #values then return missed() end
if #names > 0 then
  local current = redis.call('MGET', unpack(names))
  for i = 1, #names do
    if current[i] ~= values[i] then return missed() end
  end
end
local value = string.sub(entry, second + 1)
return {observed, value, on_hit(value, {unpack(KEYS, n + 2)}, {unpack(ARGV, 3)})}
"""
_NO_ON_HIT = "local function on_hit(value, keys, args) return nil end\n"
# get_recorded_with's second element when no OnHit ran (a miss, a fill awaited, a cluster, on_hit's nil).
NOT_RUN: Any = object()


@dataclass(frozen=True)
class OnHit:
    """Work for the lookup's own script when it finds a servable recorded entry, so a hit and what it
    entails (e.g. charging its cost to a rate limit) take one round trip. `lua` defines
    `local function on_hit(value, keys, args)` (value: the entry's stored text) over `keys` (in the same slot
    as everything else the script touches: a single node only) and `args`; its answer is returned as is."""

    lua: str
    keys: tuple[str, ...] = ()
    args: tuple[str | int | float, ...] = ()


@dataclass(frozen=True)
class _Found(Generic[T]):
    """What a recorded entry's lookup found: the fallback stamps' values, the value (or _MISS), on_hit's
    answer (or NOT_RUN), and whether the lookup took the fill lock (None: it did not try)."""

    stamps: tuple[str, ...]
    value: T
    answer: Any
    lock: bool | None


@dataclass(frozen=True)
class _Observed:
    stamps: dict[str, str]
    entries: list[bytes | None]

    def values_for(self, key: CacheKey) -> tuple[str, ...]:
        return tuple(self.stamps[name] for name in key.stamps)


def new_token() -> str:
    """A stamp value never used before (stamps are compared for equality only, so values cannot recur)."""
    return secrets.token_hex(8)


class Cache:
    """Read-through cache; one per process (tests make several to stand in for several processes)."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_s: int = 300,
        timeout_s: float = 0.5,
        lock_ms: int = 2000,
        lock_wait_s: float = 1.0,
        probe_s: float = 0.5,
        enabled: bool = True,
    ) -> None:
        self.redis = redis
        self.enabled = enabled
        self.ttl_s = ttl_s
        # Per-row stamps only need to outlive the entries filled under them; a lost stamp just means misses
        # (the epoch and per-entity stamps keep no TTL: keys.stamp_expires).
        self.stamp_ttl_s = max(86_400, 2 * ttl_s)
        self.lock_ms = lock_ms
        self.lock_wait_s = lock_wait_s
        self._link = RedisLink(redis, timeout_s=timeout_s, probe_s=probe_s, flush=self._bump_epoch)
        self._flights = Flights()
        self._warn_codec = RateLimitedWarning(log, 10.0)
        self.hits = 0
        self.misses = 0
        self.loads = 0
        self.stores = 0
        self.bypassed = 0
        self.fills_awaited = 0
        self.invalidations = 0
        # Recorded entries (get_recorded: the whole-response cache is their one user), also in the totals above.
        self.recorded = {"hits": 0, "misses": 0, "stores": 0, "fallbacks": 0}
        self._lookup_scripts = {_NO_ON_HIT: redis.register_script(_NO_ON_HIT + _LOOKUP)}
        self._cluster = store.is_cluster(redis)
        self._bulk = Bulk(redis)  # stores, stamp creation and invalidation: one script call per slot
        self._reads = SameTurnReads(lambda names: self._link.call("read", lambda: store.mget(self.redis, names)))

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> Cache:
        return cls(
            redis,
            ttl_s=settings.cache_ttl_s,
            timeout_s=settings.redis_timeout_s,
            lock_ms=settings.cache_lock_ms,
            lock_wait_s=settings.cache_lock_wait_s,
            probe_s=settings.cache_probe_s,
            enabled=settings.cache_enabled,
        )

    @property
    def active(self) -> bool:
        """Whether reads go through Redis now (enabled, and not bypassing it during an outage)."""
        return self.enabled and not self._link.degraded

    # ------------------------------------------------------------------------------------ reads

    async def get(self, key: CacheKey, load: Callable[[], Awaitable[T]], codec: Codec[T] = JSON) -> T:
        """The cached value of `key`, or load() (once for all concurrent misses) and cache it."""
        if not self.active:
            return await self._bypass(load)
        try:
            seen = await self._observe([key])
        except Unavailable:
            return await self._bypass(load)
        stamps = seen.values_for(key)
        value = self._read(seen.entries[0], stamps, codec)
        if value is not _MISS:
            self.hits += 1
            return value
        self.misses += 1
        flight = (key.key, stamps)
        future = self._flights.joinable(flight)
        if future is None:
            [future] = self._flights.start([flight], lambda: self._fill_one(key, stamps, load, codec))
        return await wait(future)

    async def get_many(
        self,
        items: Sequence[K],
        key: Callable[[K], CacheKey],
        load: Callable[[list[K]], Awaitable[Sequence[T]]],
        codec: Codec[T] = JSON,
    ) -> list[T]:
        """Values for items in order (a DataLoader batch): one MGET, then one load() of the misses only."""
        unique = list(dict.fromkeys(items))
        if not unique:
            return []
        if not self.active:
            return _in_order(items, unique, await self._bypass(lambda: load(unique)))
        cache_keys = [key(item) for item in unique]
        try:
            seen = await self._observe(cache_keys)
        except Unavailable:
            return _in_order(items, unique, await self._bypass(lambda: load(unique)))
        found: dict[K, Any] = {}
        pending: dict[K, asyncio.Future[Any]] = {}
        leaders: list[tuple[K, CacheKey, tuple[str, ...]]] = []
        for item, cache_key, raw in zip(unique, cache_keys, seen.entries, strict=True):
            stamps = seen.values_for(cache_key)
            value = self._read(raw, stamps, codec)
            if value is not _MISS:
                self.hits += 1
                found[item] = value
                continue
            self.misses += 1
            future = self._flights.joinable((cache_key.key, stamps))
            if future is None:
                leaders.append((item, cache_key, stamps))
            else:
                pending[item] = future
        if leaders:
            flights = [(cache_key.key, stamps) for _, cache_key, stamps in leaders]
            futures = self._flights.start(flights, lambda: self._fill_many(leaders, load, codec))
            pending.update(zip((item for item, _, _ in leaders), futures, strict=True))
        for item, future in pending.items():
            found[item] = await wait(future)
        return [found[item] for item in items]

    async def get_recorded(self, key: CacheKey, load: Callable[[], Awaitable[T]], codec: Codec[T] = JSON) -> T:
        """The cached value of `key`, or load() and cache it under the stamps its own cache reads observed.

        load() runs inside `reads.recording()`: the entry depends on exactly the stamps of the cache reads it
        made (the values observed before each load). When it also read something no stamp follows (a
        database round trip outside a cache load) the entry depends on `key.stamps` and the epoch instead,
        as observed before load() started. A None value is returned, never stored.
        """
        return (await self.get_recorded_with(key, load, codec))[0]

    async def get_recorded_with(
        self, key: CacheKey, load: Callable[[], Awaitable[T]], codec: Codec[T] = JSON, on_hit: OnHit | None = None
    ) -> tuple[T, Any]:
        """get_recorded, and on_hit's answer when this lookup found the entry servable and ran it in the same
        round trip (NOT_RUN otherwise: the caller does that work itself)."""
        if not self.active:
            return await self._bypass(load), NOT_RUN
        try:
            found = await self._look_up(key, codec, on_hit, lock=True)
        except Unavailable:
            return await self._bypass(load), NOT_RUN
        observed = found.stamps
        if found.value is not _MISS:
            self.hits += 1
            self.recorded["hits"] += 1
            return found.value, found.answer
        self.misses += 1
        self.recorded["misses"] += 1
        # Keyed by the fallback stamps as observed: a caller that arrives after a write bumped one of them
        # (every write bumps its entity's collection stamp) never joins a computation that began before it.
        flight = (key.key, observed)
        future = self._flights.joinable(flight)
        if future is None:
            [future] = self._flights.start(
                [flight], lambda: self._fill_recorded(key, observed, load, codec, found.lock)
            )
        elif found.lock is True:
            # Taken after this process's own fill released it (it stored nothing): hand it back at once.
            await self._release(keys.fill_lock(key.key, observed))
        return await wait(future), NOT_RUN

    async def _look_up(
        self, key: CacheKey, codec: Codec[T], on_hit: OnHit | None = None, *, lock: bool = False
    ) -> _Found[T]:
        """The fallback stamps' values, the entry's value and on_hit's answer in one round trip (two on a
        cluster, where neither an OnHit nor the lock runs); with `lock`, a miss also tried the fill lock."""
        names = list(key.stamps)
        answer, held = NOT_RUN, None
        if self._cluster:
            values, body = await self._link.call("read", lambda: self._look_up_across_slots(key.key, names))
        else:
            script, extra_keys, args = self._lookup_script(on_hit)
            lock_ms = self.lock_ms if lock else 0
            reply = await self._link.call(
                "read", lambda: script(keys=[key.key, *names, *extra_keys], args=[len(names), lock_ms, *args])
            )
            values, body = reply[0], (reply[1] if len(reply) > 1 else None)
            if len(reply) > 2 and reply[2] is not None:
                answer = reply[2]
            if len(reply) > 3:
                held = reply[3] == 1
        stamps = {name: value.decode() for name, value in zip(names, values, strict=True) if value is not None}
        absent = [name for name in names if name not in stamps]
        if absent:
            stamps.update(await self._link.call("read", lambda: self._create_stamps(absent)))
        value = self._decode(body, codec)
        if value is not _MISS and held is not None:  # served by the script, not decodable here: no lock was tried
            held = None
        return _Found(tuple(stamps[name] for name in names), value, answer, held)

    def _lookup_script(self, on_hit: OnHit | None) -> tuple[Any, tuple[str, ...], tuple[str | int | float, ...]]:
        if on_hit is None:
            return self._lookup_scripts[_NO_ON_HIT], (), ()
        script = self._lookup_scripts.get(on_hit.lua)
        if script is None:
            script = self._lookup_scripts[on_hit.lua] = self.redis.register_script(on_hit.lua + _LOOKUP)
        return script, on_hit.keys, on_hit.args

    async def _look_up_across_slots(self, name: str, fallback: list[str]) -> tuple[list[bytes | None], bytes | None]:
        """What _LOOKUP answers, for stamps in many slots: the entry and its fallback stamps, then the stamps
        the entry names, compared here."""
        entry, *values = await store.mget(self.redis, [name, *fallback])
        if entry is None:
            return values, None
        header = entry.split(b"\n", 2)
        if len(header) < 3:
            return values, None
        names, recorded = header[0].split(), header[1].split()
        if len(names) != len(recorded):
            return values, None
        if names and await store.mget(self.redis, [n.decode() for n in names]) != recorded:
            return values, None
        return values, header[2]

    def _decode(self, body: bytes | None, codec: Codec[T]) -> T:
        if body is None:
            return _MISS
        if codec.raw:
            return codec.load(body)
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _MISS
        return self._value_of(value, codec)

    async def _fill_recorded(
        self,
        key: CacheKey,
        observed: tuple[str, ...],
        load: Callable[[], Awaitable[T]],
        codec: Codec[T],
        taken: bool | None,
    ) -> list[T]:
        """Fill under the fill lock; `taken`: whether the lookup took it already (None: it did not try)."""
        lock = keys.fill_lock(key.key, observed)
        return await self._under_lock(lock, lambda: self._peek_recorded(key, codec), lambda held: self._record(
            key, observed, load, codec, lock if held else None
        ), held=taken)

    async def _record(
        self,
        key: CacheKey,
        observed: tuple[str, ...],
        load: Callable[[], Awaitable[T]],
        codec: Codec[T],
        lock: str | None,
    ) -> T:
        try:
            self.loads += 1
            with reads.recording(locked=lock is not None) as seen:
                seen.observed({key.stamps[0]: observed[0]})  # the epoch as it was before anything was read
                value = await load()
                await asyncio.sleep(0)  # asyncpg reports statements through call_soon: let the last ones in
        except BaseException:
            if lock is not None:
                await self._release(lock)
            raise
        if seen.covered and len(seen.stamps) <= MAX_RECORDED_STAMPS:
            stamps = seen.stamps
        else:
            self.recorded["fallbacks"] += 1
            stamps = dict(zip(key.stamps, observed, strict=True))
        await self._store_recorded(key.key, stamps, value, codec, release=lock)
        return value

    async def _peek_recorded(self, key: CacheKey, codec: Codec[T]) -> T:
        return (await self._look_up(key, codec)).value

    async def _store_recorded(
        self, name: str, stamps: dict[str, str], value: Any, codec: Codec[Any], *, release: str | None
    ) -> None:
        storable = value is not None and not any(_BLANK.search(text) for pair in stamps.items() for text in pair)
        if self._link.degraded or not (storable or release):
            return
        items = []
        if storable:
            header = f"{' '.join(stamps)}\n{' '.join(stamps.values())}\n".encode()
            body = codec.dump(value) if codec.raw else orjson.dumps(codec.dump(value))
            items.append((name, header + body, self.ttl_s))
        try:
            await self._link.call("store", lambda: self._bulk.set_all(items, [release] if release else ()))
        except Unavailable:
            return
        if storable:
            self.stores += 1
            self.recorded["stores"] += 1

    async def _bypass(self, load: Callable[[], Awaitable[T]]) -> T:
        self.bypassed += 1
        reads.uncovered()  # read with no stamp observed: a recording around it cannot be stored as covered
        return await self._load(load)

    async def _load(self, load: Callable[[], Awaitable[T]]) -> T:
        self.loads += 1
        with reads.loading():
            return await load()

    async def _observe(self, cache_keys: Sequence[CacheKey]) -> _Observed:
        """Current stamp values and raw entries in one round trip (a second only for stamps never set)."""
        stamp_names = list(dict.fromkeys(name for key in cache_keys for name in key.stamps))
        entry_names = [key.key for key in cache_keys]
        values = await self._reads.mget(stamp_names + entry_names)
        stamps = {name: value.decode() for name, value in zip(stamp_names, values) if value is not None}
        absent = [name for name in stamp_names if name not in stamps]
        if absent:
            stamps.update(await self._link.call("read", lambda: self._create_stamps(absent)))
        reads.observed(stamps)
        return _Observed(stamps, values[len(stamp_names) :])

    async def _create_stamps(self, names: list[str]) -> dict[str, str]:
        # SET NX GET: concurrent readers agree on one value; a writer's SET simply replaces it.
        token = new_token()
        previous = await self._bulk.set_absent(names, token, [self._stamp_ttl(name) for name in names])
        return {name: token if old is None else old.decode() for name, old in zip(names, previous, strict=True)}

    def _read(self, raw: bytes | None, stamps: tuple[str, ...], codec: Codec[T]) -> T:
        if raw is None:
            return _MISS
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _MISS
        if not isinstance(entry, dict) or entry.get("s") != list(stamps):
            return _MISS
        value = entry.get("v")
        if value is None:
            return None  # type: ignore[return-value]
        return self._value_of(value, codec)

    def _value_of(self, value: Any, codec: Codec[T]) -> T:
        try:
            return codec.load(value)
        except Exception as exc:  # noqa: BLE001 - an entry the code no longer understands is a miss
            self._warn_codec("cache: entry does not decode (%s); bump keys.VERSION when a shape changes", exc)
            return _MISS

    # ------------------------------------------------------------------------------------ fills

    async def _fill_one(
        self, key: CacheKey, stamps: tuple[str, ...], load: Callable[[], Awaitable[T]], codec: Codec[T]
    ) -> list[T]:
        if reads.under_fill_lock():  # one Redis round trip fewer: the enclosing fill keeps other instances out
            return [await self._fill_held(key, stamps, load, codec, None)]
        lock = keys.fill_lock(key.key, stamps)
        return await self._under_lock(lock, lambda: self._peek(key, codec), lambda held: self._fill_held(
            key, stamps, load, codec, lock if held else None
        ))

    async def _under_lock(
        self,
        lock: str,
        peek: Callable[[], Awaitable[T]],
        fill: Callable[[bool], Awaitable[T]],
        *,
        held: bool | None = None,
    ) -> list[T]:
        """Fill once across instances: take the fill lock (unless the lookup tried it already: `held`), or wait
        for the holder's entry (`peek`); fill(held) loads and stores (releasing the lock when held)."""
        if held is None:
            held = await self._acquire(lock)
        if not held:
            value, held = await self._await_other_fill(peek, lock)
            if value is not _MISS:
                if held:
                    await self._release(lock)
                return [value]
        return [await fill(held)]

    async def _fill_held(
        self, key: CacheKey, stamps: tuple[str, ...], load: Callable[[], Awaitable[T]], codec: Codec[T], lock: str | None
    ) -> T:
        try:
            value = await self._load(load)
        except BaseException:
            if lock is not None:
                await self._release(lock)  # a waiting instance takes over at once
            raise
        await self._store([(key.key, stamps, value)], codec, release=lock)
        return value

    async def _fill_many(
        self,
        leaders: list[tuple[K, CacheKey, tuple[str, ...]]],
        load: Callable[[list[K]], Awaitable[Sequence[T]]],
        codec: Codec[T],
    ) -> list[T]:
        values = list(await self._load(lambda: load([item for item, _, _ in leaders])))
        entries = [(key.key, stamps, value) for (_, key, stamps), value in zip(leaders, values, strict=True)]
        await self._store(entries, codec)
        return values

    async def _acquire(self, lock: str) -> bool:
        """True when this instance should load: it holds the fill lock, or Redis cannot tell."""
        try:
            return await self._try_lock(lock)
        except Unavailable:
            return True

    async def _try_lock(self, lock: str) -> bool:
        return bool(await self._link.call("lock", lambda: self.redis.set(lock, b"1", nx=True, px=self.lock_ms)))

    async def _release(self, lock: str) -> None:
        try:
            await self._link.call("unlock", lambda: self.redis.delete(lock))
        except Unavailable:
            pass

    async def _await_other_fill(self, peek: Callable[[], Awaitable[T]], lock: str) -> tuple[T, bool]:
        """Another instance holds the fill lock: poll for its entry instead of loading it again.

        Returns (value, False) on a hit, or (_MISS, held) when this instance should load: it took the
        lock over (the holder released it after a failure, or it expired) or waited long enough.
        """
        deadline = time.monotonic() + self.lock_wait_s
        delay = _POLL_FIRST_S
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S)
            try:
                value = await peek()
                if value is not _MISS:
                    self.fills_awaited += 1
                    return value, False
                if await self._try_lock(lock):
                    value = await peek()  # the holder may have stored just before
                    if value is not _MISS:
                        self.fills_awaited += 1
                    return value, True
            except Unavailable:
                return _MISS, False
        return _MISS, False

    async def _peek(self, key: CacheKey, codec: Codec[T]) -> T:
        seen = await self._observe([key])
        return self._read(seen.entries[0], seen.values_for(key), codec)

    async def _store(
        self, entries: list[tuple[str, tuple[str, ...], Any]], codec: Codec[Any], *, release: str | None = None
    ) -> None:
        if self._link.degraded:
            return
        if codec.raw:
            raise ValueError("a raw codec is for recorded entries (get_recorded) only")
        items = [(name, orjson.dumps({"s": list(stamps), "v": None if value is None else codec.dump(value)}), self.ttl_s)
                 for name, stamps, value in entries]
        try:
            await self._link.call("store", lambda: self._bulk.set_all(items, [release] if release else ()))
        except Unavailable:
            return
        self.stores += len(entries)

    # ------------------------------------------------------------------------------ invalidation

    async def invalidate(self, changes: list[Change]) -> None:
        """Change listener: replace the stamps of everything the committed changes touched; never raises."""
        names = list(dict.fromkeys(name for change in changes for name in keys.stamps_to_bump(change)))
        if not names:
            return
        self.invalidations += len(changes)
        if self._link.degraded:
            self._link.missed_invalidation()
            return
        token = new_token()

        def replace() -> Awaitable[Any]:
            return self._bulk.set_all([(name, token, self._stamp_ttl(name)) for name in names])

        try:
            try:
                await self._link.call("invalidate", replace)
            except LateLoop:
                # Setting the same fresh token again is harmless whether the first attempt landed or not; a second
                # failure, late or not, degrades and counts as missed like any other.
                await self._link.call("invalidate", replace, tolerate_late=False)
        except Unavailable:
            self._link.missed_invalidation()

    def _stamp_ttl(self, name: str) -> int | None:
        return self.stamp_ttl_s if keys.stamp_expires(name) else None

    async def _bump_epoch(self) -> None:
        """Replace every group's copy of the epoch (one pipeline; on a cluster, every node at once)."""
        token = new_token()
        pipe = self.redis.pipeline(transaction=False)
        for name in keys.epochs():
            pipe.set(name, token)
        await pipe.execute()

    # ---------------------------------------------------------------------------------- status

    def stats(self) -> dict[str, Any]:
        """Counters for /metrics: hits, misses, loads, errors, and whether Redis is being bypassed."""
        link = self._link
        return {
            "enabled": self.enabled,
            "hits": self.hits,
            "misses": self.misses,
            "loads": self.loads,
            "stores": self.stores,
            "bypassed": self.bypassed,
            "flights_joined": self._flights.joined,
            "read_batches": self._reads.batches,  # MGETs sent for the `reads_batched` reads (one per turn)
            "reads_batched": self._reads.reads,
            "fills_awaited": self.fills_awaited,
            "invalidations": self.invalidations,
            **{f"response_{name}": count for name, count in self.recorded.items()},
            "missed_invalidations": link.missed,
            "errors": link.errors,
            "recoveries": link.recoveries,
            "late_timeouts": link.late_timeouts,
            "degraded": link.degraded,
            "degraded_since": link.degraded_since,
            "flush_pending": link.flush_pending,
        }

    async def close(self) -> None:
        await self._flights.close()
        await self._link.close()


def _in_order(items: Sequence[K], unique: list[K], values: Sequence[T]) -> list[T]:
    by_item = dict(zip(unique, values, strict=True))
    return [by_item[item] for item in items]
