"""Limits on what one document may ask for, and masking of unexpected errors."""

from __future__ import annotations

import logging

import httpx
import pytest
from graphql import parse, validate
from graphql.validation import FieldsOnCorrectTypeRule, OverlappingFieldsCanBeMergedRule
from graphql.validation.rules import overlapping_fields_can_be_merged as overlapping

from app.graphql.limits import bounded_field_merging
from app.graphql.strawberry_adapter import core_schema
from app.schema import schema
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


REPEATED = "{ " + " ".join(["tasks { totalCount }"] * 1000) + " }"  # 4,002 tokens, 499,500 pairs of `tasks`


def test_field_merging_stops_at_its_budget_with_a_coded_error(monkeypatch: pytest.MonkeyPatch) -> None:
    comparisons = 0
    compare = overlapping.find_conflict

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal comparisons
        comparisons += 1
        return compare(*args, **kwargs)

    monkeypatch.setattr(overlapping, "find_conflict", counting)
    rule = bounded_field_merging(merge_budget=20_000)
    errors = validate(core_schema(schema), parse("{ nope " + REPEATED[1:]), [rule, FieldsOnCorrectTypeRule])
    codes_found = sorted((e.extensions or {}).get("code", "standard") for e in errors)
    # The other rules still ran; field merging stopped once it had spent its budget (2 units a comparison).
    assert codes_found == ["TOO_MANY_OVERLAPPING_FIELDS", "standard"]
    assert 0 < comparisons <= 20_000 // 2


@pytest.mark.parametrize(
    "text",
    [
        "{ tasks { x: totalCount x: pageInfo { hasNextPage } } }",
        "{ tasks(first: 1) { totalCount } tasks(first: 2) { totalCount } }",
        "{ ...A ...B } fragment A on Query { t: apiVersion } fragment B on Query { t: tasks { totalCount } }",
        "{ tasks { totalCount } tasks { totalCount nodes { id } } ...F } fragment F on Query { tasks { totalCount } }",
    ],
)
def test_within_its_budget_field_merging_gives_graphql_cores_verdicts(text: str) -> None:
    document = parse(text)
    ours = validate(core_schema(schema), document, [bounded_field_merging(merge_budget=1_000)])
    theirs = validate(core_schema(schema), document, [OverlappingFieldsCanBeMergedRule])
    assert [(e.message, e.locations) for e in ours] == [(e.message, e.locations) for e in theirs]


async def test_repeating_a_field_a_thousand_times_is_refused_with_its_code(client: httpx.AsyncClient) -> None:
    client.headers.pop("Authorization")
    body = await gql(client, REPEATED)
    assert body["_status"] == 400
    assert codes(body) == ["TOO_MANY_OVERLAPPING_FIELDS"]
    assert body["errors"][0]["extensions"]["mergeBudget"] == 50_000
