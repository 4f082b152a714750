"""Whole-response cache for queries, checked before parsing.

An entry is keyed by the document, the variables, the operation name and the caller's permission scope
(role; plus the user id when the document may show per-caller data: emails, `me`). It stores the
response's `data` as JSON text and the operation's cost, so a hit is still charged against the caller's
rate limit and reports `extensions.cost` like an executed request. A hit and its charge take one Redis
round trip: the lookup's script charges the cost it finds in the entry (OnHit, `_CHARGE_ON_HIT`); on a
Redis Cluster (the bucket lies in another slot) the charge is a second round trip. Only
successful query responses are stored; documents naming a mutation or subscription are never looked up,
nor documents naming a field registered with `never_store` (data whose writes bump no stamp).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app import cache
from app.abuse.keys import rate_limit_key
from app.abuse.ratelimit import GCRA_FUNCTION, Decision
from app.auth.permissions import can_read
from app.auth.principal import Principal
from app.cache.codec import RAW_JSON
from app.cache.core import NOT_RUN, OnHit
from app.graphql import keys
from app.graphql.request_params import read_params
from app.graphql.access import LimiterSlot
from app.settings import Settings

_ENTRY_HEAD = re.compile(rb'\{"cost":(\d+),"data":')  # a stored entry's start (_entry_of)
_NOT_CACHEABLE = re.compile(r"\b(mutation|subscription)\b")
_PER_CALLER = re.compile(r"email|\bme\b", re.IGNORECASE)
MAX_DOCUMENT_CHARS = 20_000
# An entry's stored text starts with its cost (_entry_of writes it first), which the
# lookup's script charges to the caller's bucket (gcra) when the entry is servable.
_CHARGE_ON_HIT = GCRA_FUNCTION + """
local function on_hit(value, keys, args)
  local cost = tonumber(string.match(value, '^{"cost":(%d+),'))
  if not cost then return nil end
  return gcra(keys[1], args[1], tonumber(args[2]), tonumber(args[3]), math.max(cost, 1))
end
"""

_never_stored: set[str] = set()
_never_stored_pattern: re.Pattern[str] | None = None

# What the text of a document says (cacheable at all, per caller), kept per document: clients repeat a few
# documents, and each test is a regex scan of the whole text on every request (~6 % of a hit's CPU). Bounded:
# documents up to _TRAITS_MAX_CHARS, _TRAITS_KEPT of them (the oldest go first), a few MB at most.
_TRAITS_MAX_CHARS = 4_000
_TRAITS_KEPT = 1_000
_traits: dict[str, tuple[bool, bool]] = {}


def never_store(*field_names: str) -> None:
    """Documents naming any of these fields are never stored nor served: their answers must be fresh on
    every instance at once, and no stamp follows their writes (e.g. `auditLog`: audit rows are also written
    by writes that change nothing else, and a user write's row lands after its change notice).

    A field can only be selected by its name (aliases and fragments still spell it), so a word match on the
    document finds every selection; a match in a comment or string merely skips the cache."""
    global _never_stored_pattern
    _never_stored.update(field_names)
    names = "|".join(sorted(map(re.escape, _never_stored)))
    _never_stored_pattern = re.compile(rf"(?<![_0-9A-Za-z])(?:{names})(?![_0-9A-Za-z])")
    _traits.clear()


def _names_never_stored_field(query: str) -> bool:
    return _never_stored_pattern is not None and _never_stored_pattern.search(query) is not None


def _traits_of(query: str) -> tuple[bool, bool]:
    """(whether the document may be served from the cache at all, whether its answer is per caller)."""
    known = _traits.get(query)
    if known is not None:
        return known
    cacheable = (
        len(query) <= MAX_DOCUMENT_CHARS and not _NOT_CACHEABLE.search(query) and not _names_never_stored_field(query)
    )
    traits = (cacheable, cacheable and _PER_CALLER.search(query) is not None)
    if len(query) <= _TRAITS_MAX_CHARS:
        if len(_traits) >= _TRAITS_KEPT:
            del _traits[next(iter(_traits))]
        _traits[query] = traits
    return traits


@dataclass(frozen=True)
class CachedRequest:
    query: str
    variables: dict[str, Any]
    operation_name: str | None


async def read_request(request: Request) -> CachedRequest | None:
    """The GraphQL request if it can be served from the cache; None leaves it to normal execution."""
    params = await read_params(request)
    if params is None:
        return None
    query, operation_name = params.query, params.operation_name
    variables = params.variables or {}
    if (
        not isinstance(query, str)
        or not isinstance(variables, dict)
        or not isinstance(operation_name, str | None)
        or not _traits_of(query)[0]
    ):
        return None
    return CachedRequest(query, variables, operation_name)


def scope_of(principal: Principal, query: str) -> str:
    """The permission scope a response is valid for."""
    if _traits_of(query)[1]:
        return f"{principal.role}:{principal.user_id}"
    return str(principal.role)


class ResponseCache:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limiters = LimiterSlot(settings)

    @staticmethod
    def active() -> bool:
        """Whether responses are served from the cache at all (CACHE_ENABLED and a usable cache)."""
        return cache.current().enabled

    async def respond(
        self,
        request: Request,
        principal: Principal,
        client_ip: str | None,
        execute: Callable[[], Awaitable[Response]],
        media_type: str,
    ) -> Response | None:
        """The response for a cacheable query (from the cache, or executed and stored); None: not cacheable."""
        if not self.active() or not can_read(principal, auth_required=self.settings.auth_required):
            return None
        cached_request = await read_request(request)
        if cached_request is None:
            return None
        key = keys.response(
            {
                "q": cached_request.query,
                "v": cached_request.variables,
                "op": cached_request.operation_name,
                "scope": scope_of(principal, cached_request.query),
            }
        )
        executed: list[Response] = []

        async def load() -> bytes | None:
            response = await execute()
            executed.append(response)
            return _entry_of(response)

        charge_key = rate_limit_key(principal, client_ip)
        entry, charged = await cache.current().get_recorded_with(key, load, RAW_JSON, self._charge_on_hit(charge_key))
        if executed:
            return executed[0]
        parts = None if entry is None else _parts_of(entry)
        if parts is None:
            return None  # known not cacheable (it failed when it ran), or unreadable: execute normally
        cost, data = parts
        extensions: dict[str, Any] = {"cost": cost}
        decision = await self._decision(charged, principal, client_ip, cost)
        if decision is not None:
            if not decision.allowed:
                return None  # normal execution answers RATE_LIMITED (a denial consumes nothing)
            if not decision.degraded:
                extensions["rateLimit"] = {"limit": decision.limit, "remaining": decision.remaining}
        body = b'{"data":%b,"extensions":%b}' % (data, orjson.dumps(extensions))
        return Response(body, media_type=f"{media_type}; charset=utf-8")

    def _charge_on_hit(self, charge_key: str) -> OnHit | None:
        if not self.settings.rate_limit_enabled:
            return None
        bucket, args = self.limiters.get().bucket_of(charge_key)
        return OnHit(_CHARGE_ON_HIT, (bucket,), tuple(args))

    async def _decision(
        self, charged: Any, principal: Principal, client_ip: str | None, cost: int
    ) -> Decision | None:
        """The charge the lookup made (only ever asked for with rate limits on), or one made now (a fill
        awaited, a cluster, the cache degraded)."""
        if charged is not NOT_RUN:
            return self.limiters.get().decision_of(charged)
        return await self.limiters.charge(principal, client_ip, cost)


def _entry_of(response: Response) -> bytes | None:
    """What to store for an executed response (only a 200 without errors): `{"cost":N,"data":...}`, the data
    as JSON text inside, so that a hit builds its body from bytes without decoding anything."""
    if response.status_code != 200:
        return None
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("errors") or body.get("data") is None:
        return None
    cost = (body.get("extensions") or {}).get("cost", 0)
    return b'{"cost":%d,"data":%b}' % (cost if isinstance(cost, int) else 0, orjson.dumps(body["data"]))


def _parts_of(entry: bytes) -> tuple[int, bytes] | None:
    """(cost, data as JSON text) of a stored entry; None for anything else."""
    found = _ENTRY_HEAD.match(entry)
    if found is None or not entry.endswith(b"}"):
        return None
    return int(found[1]), entry[found.end() : -1]
