"""Authentication over HTTP: who may call what without a token, and every way a token can be bad."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from app.auth.tokens import mint_token
from app.main import create_app
from app.settings import Settings
from tests.access.world import World
from tests.auth.keys import rsa_pair
from tests.support.auth import token_for
from tests.support.graphql import codes, gql

TASKS = "{ tasks(first: 1) { totalCount } }"


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    del client.headers["Authorization"]
    return client


def token(settings: Settings, *, key: object = None, **overrides: object) -> str:
    options: dict = {
        "key": key or settings.jwt_hs256_secret.get_secret_value(),
        "user_id": "0123456789abcdef01234567",
        "role": "member",
        "ttl_s": 600,
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
    }
    options.update(overrides)
    return mint_token(**options)


async def as_token(client: httpx.AsyncClient, value: str, query: str = TASKS) -> dict:
    client.headers["Authorization"] = f"Bearer {value}"
    return await gql(client, query)


@asynccontextmanager
async def app_client(settings: Settings, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process app with other settings (the stores are the suite's)."""
    app = create_app(settings.model_copy(update=overrides))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def test_without_a_token_operations_are_unauthenticated(anonymous: httpx.AsyncClient) -> None:
    body = await gql(anonymous, TASKS)
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["_status"] == 401 and "data" not in body
    legacy = await gql(anonymous, TASKS, accept="application/json")
    assert legacy["_status"] == 200 and legacy["data"] is None and codes(legacy) == ["UNAUTHENTICATED"]


async def test_api_version_and_introspection_need_no_token(anonymous: httpx.AsyncClient) -> None:
    assert (await gql(anonymous, "{ apiVersion __typename }"))["data"]["apiVersion"]
    introspection = await gql(anonymous, "{ __schema { queryType { name } } }")
    assert introspection["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    mixed = await gql(anonymous, "{ apiVersion tags { taskCount } }")
    assert codes(mixed) == ["UNAUTHENTICATED"]


async def test_a_fragment_cannot_smuggle_fields_past_the_public_check(anonymous: httpx.AsyncClient) -> None:
    body = await gql(anonymous, "{ apiVersion ...Q } fragment Q on Query { tasks { totalCount } }")
    assert codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s: token(s, now=datetime.now(UTC) - timedelta(hours=1), ttl_s=60), "expired"),
        (lambda s: token(s, key="another-secret-of-enough-length-000000"), "signature"),
        (lambda s: token(s, audience="someone-else"), "audience"),
        (lambda s: token(s, issuer="evil"), "issuer"),
        (lambda s: token(s, extra={"role": "superuser"}), "claims"),
        (lambda s: token(s)[:-3] + "AAA", "signature"),
        (lambda s: "not.a.token", "malformed"),
    ],
    ids=["expired", "other-secret", "audience", "issuer", "role", "tampered", "garbage"],
)
async def test_bad_tokens_are_unauthenticated_with_a_reason(client: httpx.AsyncClient, settings: Settings, make,
                                                            reason: str) -> None:
    body = await as_token(client, make(settings))
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["extensions"]["reason"] == reason
    assert body["_status"] == 401


async def test_a_bad_token_is_refused_even_for_public_fields(client: httpx.AsyncClient) -> None:
    # A client that sends a token wants to be someone: tell it the token is bad instead of serving it anonymously.
    assert codes(await as_token(client, "garbage", "{ apiVersion }")) == ["UNAUTHENTICATED"]


async def test_other_authorization_schemes_are_refused(client: httpx.AsyncClient) -> None:
    client.headers["Authorization"] = "Basic dXNlcjpwYXNz"
    body = await gql(client, TASKS)
    assert codes(body) == ["UNAUTHENTICATED"] and body["errors"][0]["extensions"]["reason"] == "scheme"


async def test_rs256_tokens_are_accepted_with_a_configured_public_key(settings: Settings) -> None:
    private, public = rsa_pair()
    async with app_client(settings, jwt_rs256_public_key=public) as http:
        rs256 = token(settings, key=private, algorithm="RS256")
        assert "errors" not in await as_token(http, rs256)
        hs256 = token(settings)
        assert "errors" not in await as_token(http, hs256)  # both keys configured: both accepted
    async with app_client(settings, jwt_rs256_public_key=public, jwt_hs256_secret=SecretStr("")) as http:
        body = await as_token(http, token(settings))
        assert body["errors"][0]["extensions"]["reason"] == "algorithm"


async def test_me_is_the_signed_in_user(client: httpx.AsyncClient, world: World) -> None:
    client.headers.update(world.alice.headers())
    me = (await gql(client, "{ me { id email } }"))["data"]["me"]
    assert me == {"id": world.alice.id, "email": world.alice.email}
    # A valid token whose user no longer exists (or never did): signed in, but `me` is null.
    client.headers["Authorization"] = f"Bearer {token_for('f' * 24)}"
    assert (await gql(client, "{ me { id } }"))["data"]["me"] is None


async def test_without_auth_required_anonymous_callers_read_but_never_write(settings: Settings, world: World) -> None:
    async with app_client(settings, auth_required=False) as http:
        read = await gql(http, "query($id: ID!) { user(id: $id) { id email } }", {"id": world.bob.id})
        assert read["data"]["user"] == {"id": world.bob.id, "email": None}
        write = await gql(http, 'mutation { createTask(input: {title: "anonymous"}) { id } }')
        assert codes(write) == ["UNAUTHENTICATED"]
