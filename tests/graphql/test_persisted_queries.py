"""Automatic persisted queries (Apollo APQ v1): hash-only requests over POST and GET, registration, errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from app.graphql.persisted_queries import document_key
from app.main import create_app
from app.settings import Settings
from app.stores import redis
from tests.support.auth import admin_headers, bearer

GRAPHQL_RESPONSE = "application/graphql-response+json"


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query_hash: str, version: int = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": query_hash}}


def fresh_query() -> str:
    """A query text no earlier test registered (the hash is new every time)."""
    return f"query Titles_{uuid4().hex} {{ tasks(first: 3) {{ totalCount nodes {{ title }} }} }}"


async def create_task(client: httpx.AsyncClient, title: str) -> None:
    body = (await client.post("/graphql", json={"query": f'mutation {{ createTask(input: {{title: "{title}"}}) {{ id }} }}'})).json()
    assert "errors" not in body, body


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_an_unknown_hash_is_not_found_in_both_media_types(client: httpx.AsyncClient) -> None:
    query_hash = sha(fresh_query())

    plain = await client.post("/graphql", json={"extensions": persisted(query_hash)})
    strict = await client.post("/graphql", json={"extensions": persisted(query_hash)}, headers={"accept": GRAPHQL_RESPONSE})

    assert plain.status_code == 200 and plain.json() == {
        "data": None, "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    assert strict.status_code == 400 and strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in strict.json() and codes(strict.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_once_registered_the_hash_alone_runs_the_query_over_post_and_get(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await create_task(client, "apq one")
    query = fresh_query()
    query_hash = sha(query)

    # Given the client sent the query with its hash once (Apollo's retry after PersistedQueryNotFound)
    first = await client.post("/graphql", json={"query": query, "extensions": persisted(query_hash)})
    assert first.status_code == 200 and "errors" not in first.json()
    assert 0 < await redis.client().ttl(document_key(query_hash)) <= settings.apq_ttl_s

    # When it sends only the hash, by POST and by GET
    by_post = await client.post("/graphql", json={"extensions": persisted(query_hash)})
    by_get = await client.get("/graphql", params={"extensions": json.dumps(persisted(query_hash))})

    # Then both run the stored query
    assert by_post.status_code == by_get.status_code == 200
    assert by_post.json()["data"] == by_get.json()["data"] == first.json()["data"]
    assert "apq one" in [node["title"] for node in first.json()["data"]["tasks"]["nodes"]]


async def test_variables_and_operation_name_travel_with_the_hash(client: httpx.AsyncClient) -> None:
    await create_task(client, "apq variables 1")
    await create_task(client, "apq variables 2")
    query = f"query Named_{uuid4().hex[:8]}($n: Int!) {{ tasks(first: $n) {{ nodes {{ id }} }} }} query Other {{ apiVersion }}"
    name = query.split()[1].split("(")[0]
    registered = await client.post(
        "/graphql", json={"query": query, "variables": {"n": 1}, "operationName": name, "extensions": persisted(sha(query))}
    )
    assert len(registered.json()["data"]["tasks"]["nodes"]) == 1

    response = await client.get("/graphql", params={
        "extensions": json.dumps(persisted(sha(query))), "variables": json.dumps({"n": 2}), "operationName": name,
    })
    assert len(response.json()["data"]["tasks"]["nodes"]) == 2
    other = await client.post("/graphql", json={"operationName": "Other", "extensions": persisted(sha(query))})
    assert set(other.json()["data"]) == {"apiVersion"}


async def test_a_hash_that_does_not_match_its_query_is_refused_and_not_stored(client: httpx.AsyncClient) -> None:
    query, other = fresh_query(), fresh_query()
    response = await client.post("/graphql", json={"query": query, "extensions": persisted(sha(other))})

    assert codes(response.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert await redis.client().exists(document_key(sha(other)), document_key(sha(query))) == 0


async def test_a_query_that_does_not_run_is_not_remembered(client: httpx.AsyncClient) -> None:
    broken = f"query Broken_{uuid4().hex} {{ tasks(first: 3) {{ noSuchField }} }}"
    response = await client.post("/graphql", json={"query": broken, "extensions": persisted(sha(broken))})
    assert codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]

    again = await client.post("/graphql", json={"extensions": persisted(sha(broken))})
    assert codes(again.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer garbage"], ids=["anonymous", "bad token"])
async def test_only_signed_in_callers_register_queries(client: httpx.AsyncClient, authorization: str | None) -> None:
    # Given a caller who is not signed in sends a (public) query with its hash
    query = f"query Version_{uuid4().hex} {{ apiVersion }}"
    headers = {} if authorization is None else {"authorization": authorization}
    client.headers.pop("authorization")
    response = await client.post("/graphql", json={"query": query, "extensions": persisted(sha(query))}, headers=headers)

    # Then the query is answered as it would be without the hash (it runs for an anonymous caller; a bad
    # token is refused), and nothing is stored
    expected = ["UNAUTHENTICATED"] if authorization else []
    assert codes(response.json()) == expected
    assert await redis.client().exists(document_key(sha(query))) == 0
    again = await client.post("/graphql", json={"extensions": persisted(sha(query))})
    assert codes(again.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_member_registers_queries(client: httpx.AsyncClient) -> None:
    query = f"query Version_{uuid4().hex} {{ apiVersion }}"
    client.headers.update(bearer("b2b2b2b2b2b2b2b2b2b2b2b2"))
    assert "errors" not in (await client.post("/graphql", json={"query": query, "extensions": persisted(sha(query))})).json()
    assert await redis.client().exists(document_key(sha(query))) == 1


@pytest.mark.parametrize(
    ("extensions", "code"),
    [
        (persisted("0" * 64, version=2), "PERSISTED_QUERY_NOT_SUPPORTED"),
        (persisted("not-a-hash"), "BAD_USER_INPUT"),
        (persisted("A" * 64), "BAD_USER_INPUT"),
    ],
)
async def test_malformed_persisted_query_extensions_get_a_code(
    client: httpx.AsyncClient, extensions: dict, code: str
) -> None:
    response = await client.post("/graphql", json={"extensions": extensions})
    assert response.status_code == 200 and codes(response.json()) == [code]


async def test_a_persisted_mutation_runs_by_post_but_never_by_get(client: httpx.AsyncClient) -> None:
    mutation = f'mutation {{ createTask(input: {{title: "apq {uuid4().hex[:6]}"}}) {{ id }} }}'
    registered = await client.post("/graphql", json={"query": mutation, "extensions": persisted(sha(mutation))})
    assert registered.json()["data"]["createTask"]["id"]

    by_get = await client.get("/graphql", params={"extensions": json.dumps(persisted(sha(mutation)))})
    assert by_get.status_code == 405


@pytest.fixture
async def apq_off(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"apq_enabled": False}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=admin_headers()
    ) as http:
        yield http


async def test_with_apq_disabled_hashes_are_not_supported_and_plain_queries_still_run(apq_off: httpx.AsyncClient) -> None:
    query = fresh_query()
    with_hash = await apq_off.post("/graphql", json={"query": query, "extensions": persisted(sha(query))})
    plain = await apq_off.post("/graphql", json={"query": query})

    assert codes(with_hash.json()) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
    assert plain.status_code == 200 and "errors" not in plain.json()
