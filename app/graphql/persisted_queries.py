"""Automatic persisted queries: Apollo's APQ protocol (version 1), with the documents kept in Redis.

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` (in a POST body, or as the GET
`extensions` parameter) instead of the query text. An unknown hash answers PERSISTED_QUERY_NOT_FOUND; the
client then sends the query with its hash once, the server checks the hash, runs the query and, once the
query has run, remembers it for APQ_TTL_S. From then on the hash alone is enough, and a GET with a hash
is a short, fixed URL for a cacheable query. Request errors follow the GraphQL-over-HTTP rules of
app.graphql.view (400 with `application/graphql-response+json`, 200 with `data: null` otherwise).

Only queries that ran (the response has data) for a signed-in caller are remembered (the view checks
who called), so a stranger cannot fill Redis, and nobody with documents that do not even parse: an
anonymous caller's query with its hash simply runs, unremembered. Every APQ request is charged to its
caller's budget like any other (a miss or a refusal 1 point; a registration what its operation costs, the
SET included). Documents keep their TTL (APQ_TTL_S), so Redis may evict them under memory pressure: the
client then sends the query again. A Redis outage degrades to "not found", never to a failure.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.cache.link import REDIS_ERRORS
from app.graphql.request_params import read_params, with_query
from app.metrics import APQ
from app.settings import Settings
from app.stores import redis

log = logging.getLogger("taskboard.graphql")

PREFIX = "tb:apq:v1"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def document_key(sha256_hash: str) -> str:
    """The Redis key of a persisted document (the only place it is built)."""
    return f"{PREFIX}:{sha256_hash}"


class PersistedQueryError(Exception):
    """An APQ request the server answers without running anything."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


NOT_FOUND = ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
NOT_SUPPORTED = ("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")


@dataclass(frozen=True)
class Resolved:
    """The request to run (its query filled in from Redis when the client sent only the hash), and the
    hash to remember once it has run (when the client sent query and hash)."""

    request: Request
    register: tuple[str, str] | None = None


def _persisted_query(extensions: Any) -> dict[str, Any] | None:
    if not isinstance(extensions, dict):
        return None
    persisted = extensions.get("persistedQuery")
    return persisted if isinstance(persisted, dict) else None


def _hash_of(persisted: dict[str, Any]) -> str:
    if persisted.get("version") != 1:
        raise PersistedQueryError(*NOT_SUPPORTED)
    sha256_hash = persisted.get("sha256Hash")
    if not isinstance(sha256_hash, str) or not _SHA256_HEX.match(sha256_hash):
        raise PersistedQueryError("persistedQuery.sha256Hash must be 64 lower-case hex characters", "BAD_USER_INPUT")
    return sha256_hash


class PersistedQueries:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def resolve(self, request: Request) -> Resolved:
        """The request to run; raises PersistedQueryError when it names a hash it cannot be run by."""
        params = await read_params(request)
        if params is None:
            return Resolved(request)  # strawberry answers what it cannot read
        persisted = _persisted_query(params.extensions)
        if persisted is None:
            return Resolved(request)
        if not self.settings.apq_enabled:
            raise PersistedQueryError(*NOT_SUPPORTED)
        sha256_hash = _hash_of(persisted)
        if isinstance(params.query, str):
            if hashlib.sha256(params.query.encode()).hexdigest() != sha256_hash:
                APQ.inc("mismatch")
                raise PersistedQueryError("provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH")
            return Resolved(request, register=(sha256_hash, params.query))
        stored = await self._load(sha256_hash)
        if stored is None:
            APQ.inc("miss")
            raise PersistedQueryError(*NOT_FOUND)
        APQ.inc("hit")
        return Resolved(with_query(request, params, stored))

    async def remember(self, register: tuple[str, str], response: Response) -> None:
        """Keep a query that ran (its response carries data) under its hash."""
        sha256_hash, query = register
        if response.status_code != 200 or len(query) > self.settings.apq_max_document_chars:
            return
        try:
            body = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            return
        if not isinstance(body, dict) or body.get("data") is None:
            return
        try:
            await redis.client().set(document_key(sha256_hash), query, ex=self.settings.apq_ttl_s)
            APQ.inc("registered")
        except REDIS_ERRORS as exc:
            log.warning("APQ: could not store a persisted query (%s)", exc)

    async def _load(self, sha256_hash: str) -> str | None:
        try:
            stored = await redis.client().get(document_key(sha256_hash))
        except REDIS_ERRORS as exc:
            log.warning("APQ: persisted query lookup failed (%s); answering not found", exc)
            return None
        if stored is None:
            return None
        return stored.decode() if isinstance(stored, bytes) else str(stored)


def error_response(error: PersistedQueryError, media_type: str) -> Response:
    """A request error in the media type the client accepts (see app.graphql.view)."""
    errors = [{"message": error.message, "extensions": {"code": error.code}}]
    if media_type.startswith("application/graphql-response+json"):
        return Response(orjson.dumps({"errors": errors}), status_code=400, media_type=f"{media_type}; charset=utf-8")
    return Response(orjson.dumps({"data": None, "errors": errors}), media_type=f"{media_type}; charset=utf-8")
