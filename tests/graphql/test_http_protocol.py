"""GraphQL over HTTP: media types, status codes, GET for queries only, no 500 for malformed input."""

from __future__ import annotations

import httpx
import pytest

from app.main import create_app
from app.settings import load_settings
from tests.support.graphql import GRAPHQL_RESPONSE, codes, gql


async def test_successful_query_uses_the_accepted_media_type(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ apiVersion }")
    assert body["_status"] == 200
    assert body["data"] == {"apiVersion": "0.1.0"}

    legacy = await client.post("/graphql", json={"query": "{ apiVersion }"}, headers={"accept": "application/json"})
    assert legacy.headers["content-type"].startswith("application/json")

    default = await client.post("/graphql", json={"query": "{ apiVersion }"})
    assert default.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ apiVersion ", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int!) { tasks(first: $n) { totalCount } }", {"n": "ten"}, "BAD_USER_INPUT"),
        ("query($n: Int!) { tasks(first: $n) { totalCount } }", {}, "BAD_USER_INPUT"),
    ],
)
async def test_request_errors_are_400_without_data_for_graphql_response_json(
    client: httpx.AsyncClient, query: str, variables: dict, code: str
) -> None:
    body = await gql(client, query, variables)
    assert body["_status"] == 400
    assert "data" not in body
    assert codes(body) == [code]

    legacy = await gql(client, query, variables, accept="application/json")
    assert legacy["_status"] == 200
    assert legacy["data"] is None
    assert codes(legacy) == [code]


async def test_field_errors_keep_200_and_data(client: httpx.AsyncClient) -> None:
    body = await gql(client, 'mutation { createTask(input: {title: ""}) { id } }')
    assert body["_status"] == 200
    assert "data" in body and body["data"] is None
    assert codes(body) == ["VALIDATION_FAILED"]


async def test_get_runs_queries_but_not_mutations(client: httpx.AsyncClient) -> None:
    ok = await client.get("/graphql", params={"query": "{ apiVersion }"}, headers={"accept": GRAPHQL_RESPONSE})
    assert ok.status_code == 200
    assert ok.json()["data"] == {"apiVersion": "0.1.0"}

    mutation = 'mutation { createTag(name: "x", color: "#000000") { id } }'
    refused = await client.get("/graphql", params={"query": mutation}, headers={"accept": GRAPHQL_RESPONSE})
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST"
    assert refused.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert codes(refused.json()) == ["METHOD_NOT_ALLOWED"]
    assert (await gql(client, "{ tags { tag { name } } }"))["data"] == {"tags": []}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{not json", "application/json"), (b"[]", "application/json"), (b"", "application/json"),
     (b'{"query": 5}', "application/json"), (b"query=1", "text/plain")],
)
async def test_malformed_bodies_are_client_errors_never_500(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post("/graphql", content=content, headers={"content-type": content_type})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
async def test_an_unknown_operation_name_is_a_graphql_error_in_the_accepted_media_type(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": "query A { apiVersion }", "operationName": "B"}, headers={"accept": accept}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "B" in error["message"]


async def test_other_methods_are_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", json={"query": "{ apiVersion }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert codes(response.json()) == ["METHOD_NOT_ALLOWED"]


async def test_unacceptable_accept_header_is_406(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ apiVersion }"}, headers={"accept": "text/csv"})
    assert response.status_code == 406
    assert response.headers["content-type"].startswith("application/json")
    assert codes(response.json()) == ["NOT_ACCEPTABLE"]


async def test_multipart_uploads_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", files={"operations": (None, '{"query": "{ apiVersion }"}'), "map": (None, "{}")}
    )
    assert 400 <= response.status_code < 500


async def test_graphiql_in_dev_and_test(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_prod_turns_off_introspection_and_graphiql(stores: None) -> None:
    prod = create_app(load_settings(app_env="prod", jwt_hs256_secret="s" * 48))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=prod), base_url="http://t") as http:
        body = await gql(http, "{ __schema { types { name } } }")
        assert body["_status"] == 400
        assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        assert (await gql(http, "{ apiVersion }"))["data"] == {"apiVersion": "0.1.0"}
