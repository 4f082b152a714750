"""Limits on what one document may ask for, and masking of unexpected errors."""

from __future__ import annotations

import logging

import httpx
import pytest

from app.tasks import service as task_service
from tests.support.graphql import codes, gql


async def test_depth_limit_has_its_own_code(client: httpx.AsyncClient) -> None:
    deep = "{ tasks { nodes { assignee { tasks { nodes { assignee { tasks { nodes { assignee { tasks { nodes { id } } } } } } } } } } } }"
    body = await gql(client, deep)
    assert body["_status"] == 400
    assert codes(body) == ["QUERY_TOO_DEEP"]
    assert body["errors"][0]["extensions"]["maxDepth"] == 10


async def test_aliases_are_counted_through_fragments(client: httpx.AsyncClient) -> None:
    fragment = "fragment F on Query { " + " ".join(f"a{i}: apiVersion" for i in range(20)) + " }"
    body = await gql(client, "query { ...F b: apiVersion ... on Query { ...F } } " + fragment)
    assert codes(body) == ["TOO_MANY_ALIASES"]
    ok = await gql(client, "query { ...F } " + fragment)
    assert "errors" not in ok


async def test_fragment_cycles_are_rejected_not_crashing(client: httpx.AsyncClient) -> None:
    body = await gql(client, "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
    assert body["_status"] == 400
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_token_limit(client: httpx.AsyncClient) -> None:
    huge = "{ " + " ".join("apiVersion" for _ in range(6000)) + " }"
    body = await gql(client, huge)
    assert body["_status"] == 400
    assert codes(body) == ["TOO_MANY_TOKENS"]


async def test_unexpected_errors_are_masked_with_a_logged_error_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**_: object) -> None:
        raise RuntimeError("secret connection string postgres://u:pw@db")

    monkeypatch.setattr(task_service, "find_tasks", broken)
    with caplog.at_level(logging.ERROR, logger="taskboard.graphql"):
        body = await gql(client, "{ tasks { totalCount } }")
    assert body["_status"] == 200
    error = body["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL"
    assert "pw@db" not in str(body)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert error["extensions"]["errorId"] in logged
    assert any(r.exc_info for r in caplog.records)
