"""Posting GraphQL documents to the app, the way a frontend does."""

from __future__ import annotations

from typing import Any

import httpx

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *, accept: str = GRAPHQL_RESPONSE
) -> dict[str, Any]:
    """POST the document; return the decoded body (asserting the HTTP layer answered with JSON)."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers={"accept": accept}
    )
    assert response.headers["content-type"].startswith(("application/json", GRAPHQL_RESPONSE)), response.text
    body = response.json()
    body["_status"] = response.status_code
    return body


def codes(body: dict[str, Any]) -> list[str]:
    """extensions.code of every error in a response."""
    return [error["extensions"]["code"] for error in body.get("errors", [])]
