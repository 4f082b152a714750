"""The GraphQL-over-HTTP parameters of a request (query, variables, operationName, extensions), read once.

A GET carries them in its query string (variables and extensions as JSON text), a POST in its JSON body.
The persisted-query resolver and the whole-response cache both look at them before strawberry runs the
request; they are decoded once per request and kept in the ASGI scope. A parameter whose JSON does not
decode is MALFORMED (each reader decides what that means); a request that is neither a GET nor a JSON
POST, or whose body is not a JSON object, has no parameters here: strawberry answers it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.types import Message

MALFORMED: Any = object()
_SCOPE_KEY = "taskboard.graphql_params"
_NOT_READABLE: Any = object()


@dataclass(frozen=True)
class RequestParams:
    query: Any
    variables: Any
    operation_name: Any
    extensions: Any
    body: dict[str, Any] | None = None  # the POST body as sent (None for GET)


def _json_param(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return MALFORMED


async def _read(request: Request) -> RequestParams | None:
    if request.method == "GET":
        params = request.query_params
        return RequestParams(
            query=params.get("query"),
            variables=_json_param(params.get("variables")),
            operation_name=params.get("operationName"),
            extensions=_json_param(params.get("extensions")),
        )
    if request.method == "POST" and request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict):
            return None
        return RequestParams(
            query=body.get("query"), variables=body.get("variables"), operation_name=body.get("operationName"),
            extensions=body.get("extensions"), body=body,
        )
    return None


async def read_params(request: Request) -> RequestParams | None:
    """The request's GraphQL parameters (decoded on the first call for this request)."""
    known = request.scope.get(_SCOPE_KEY, _NOT_READABLE)
    if known is _NOT_READABLE:
        known = request.scope[_SCOPE_KEY] = await _read(request)
    return known


def with_query(request: Request, params: RequestParams, query: str) -> Request:
    """The same request with `query` filled in (in the POST body, or in the GET query string)."""
    if params.body is not None:
        body = {**params.body, "query": query}
        raw = orjson.dumps(body)

        async def receive() -> Message:
            return {"type": "http.request", "body": raw, "more_body": False}

        request.scope[_SCOPE_KEY] = replace(params, query=query, body=body)
        return Request(request.scope, receive)
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "query"] + [("query", query)]
    scope = dict(request.scope)
    scope["query_string"] = urlencode(pairs).encode()
    scope[_SCOPE_KEY] = replace(params, query=query)
    return Request(scope, request.receive)
