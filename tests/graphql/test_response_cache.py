"""The whole-response cache: hits skip the databases, writes invalidate, scopes never leak, costs are charged."""

from __future__ import annotations

from unittest.mock import patch
from uuid import uuid4

import httpx

from app import cache

from app.auth.principal import SYSTEM, Role
from app.auth.tokens import TokenVerifier
from app.stores.mongo_log import record_commands
from app.stores.query_log import record_statements
from app.users import service as users
from tests.graphql.test_tasks_api import create_tag, create_task
from app.main import create_app
from app.settings import load_settings
from app.stores import redis as redis_store
from app.stores.redis import is_cluster
from tests.support.auth import bearer
from tests.support.redis_commands import recorded_commands

BOARD = "query Board { tasks(first: 20) { totalCount nodes { id title assignee { name } } } }"
PEOPLE = "query People { users(first: 10) { nodes { name email } } }"


async def post(client: httpx.AsyncClient, query: str, headers: dict | None = None) -> dict:
    response = await client.post("/graphql", json={"query": query}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_repeated_query_is_served_without_touching_the_databases(client: httpx.AsyncClient) -> None:
    await create_task(client, title="cached")
    first = await post(client, BOARD)
    with record_statements() as statements, record_commands() as commands:
        again = await post(client, BOARD)
    assert again["data"] == first["data"]
    assert again["extensions"]["cost"] == first["extensions"]["cost"] > 0
    assert (statements.count, commands.count) == (0, 0)


async def test_a_write_makes_the_next_response_fresh(client: httpx.AsyncClient) -> None:
    await create_task(client, title="one")
    assert (await post(client, BOARD))["data"]["tasks"]["totalCount"] == 1
    await create_task(client, title="two")
    fresh = await post(client, BOARD)
    assert fresh["data"]["tasks"]["totalCount"] == 2
    assert {n["title"] for n in fresh["data"]["tasks"]["nodes"]} == {"one", "two"}


async def test_an_admins_cached_response_is_never_served_to_a_member(client: httpx.AsyncClient) -> None:
    ada = await users.create_user(email="ada@example.com", name="Ada", actor=SYSTEM)
    bob = await users.create_user(email="bob@example.com", name="Bob", actor=SYSTEM)
    as_admin = await post(client, PEOPLE)  # the client acts as an admin
    assert {n["email"] for n in as_admin["data"]["users"]["nodes"]} == {"ada@example.com", "bob@example.com"}

    as_bob = await post(client, PEOPLE, bearer(str(bob.id)))
    emails = {n["name"]: n["email"] for n in as_bob["data"]["users"]["nodes"]}
    assert emails == {"Ada": None, "Bob": "bob@example.com"}
    as_ada = await post(client, PEOPLE, bearer(str(ada.id)))
    assert {n["name"]: n["email"] for n in as_ada["data"]["users"]["nodes"]} == {"Ada": "ada@example.com", "Bob": None}


async def test_hits_are_charged_against_the_rate_limit(client: httpx.AsyncClient) -> None:
    # A day's window: no point regenerates during the test (at 60 s, 16 a second did). An admin of its own,
    # so that the spent day-long budget is nobody else's.
    tight = create_app(load_settings(rate_limit_points=1000, rate_limit_window_s=86_400, query_max_cost=1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tight), base_url="http://t",
                                 headers=bearer(uuid4().hex[:24], Role.ADMIN)) as http:
        executed = await post(http, BOARD)
        hits = [await post(http, BOARD) for _ in range(3)]
        cost = executed["extensions"]["cost"]
        remaining = [body["extensions"]["rateLimit"]["remaining"] for body in (executed, *hits)]
        # Each hit is charged its cost
        assert [earlier - later for earlier, later in zip(remaining, remaining[1:])] == [cost] * 3
        for _ in range(100):
            body = await post_any(http, BOARD)
            if body.get("errors"):
                break
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_hit_and_its_charge_take_one_redis_round_trip(client: httpx.AsyncClient) -> None:
    """On one node the lookup's script charges the cost it finds in the entry; on a cluster (the bucket lies
    in another slot) the charge is a round trip of its own, and is made all the same."""
    tight = create_app(load_settings(rate_limit_points=1000, rate_limit_window_s=86_400, query_max_cost=1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tight), base_url="http://t",
                                 headers=bearer(uuid4().hex[:24], Role.ADMIN)) as http:
        executed = await post(http, BOARD)
        with recorded_commands() as commands:
            hit = await post(http, BOARD)
        assert hit["data"] == executed["data"]
        cost = executed["extensions"]["cost"]
        assert hit["extensions"]["rateLimit"]["remaining"] == executed["extensions"]["rateLimit"]["remaining"] - cost
        scripts = [(int(args[2]), [str(k) for k in args[3:3 + int(args[2])]]) for args in commands
                   if args[0] == "EVALSHA"]
        charges = [keys for _, keys in scripts if any(k.startswith("tb:rl:") for k in keys)]
        if is_cluster(redis_store.client()):
            assert [len(keys) for keys in charges] == [1]  # the charge alone, after the lookup (MGETs)
        else:
            assert len(commands) == 1 and len(charges) == 1  # one script: the entry, its stamps, the bucket
            assert len(charges[0]) > 2


async def test_a_miss_takes_its_fill_lock_in_the_lookups_round_trip(client: httpx.AsyncClient) -> None:
    """On one node the lookup's script also takes the fill lock for the stamp values it read when it finds
    nothing to serve; on a cluster the lock is a SET of its own. Either way the fill releases it."""
    executed = await post(client, BOARD)
    await create_task(client, title="a write: the board's entry cannot be served any more")
    with recorded_commands() as commands:
        refilled = await post(client, BOARD)
    assert refilled["data"]["tasks"] != executed["data"]["tasks"]
    locks = [args for args in commands if args[0] == "SET" and ":lock:" in str(args[1])]
    scripts = [[str(k) for k in args[3:3 + int(args[2])]] for args in commands if args[0] == "EVALSHA"]
    stored = [names for names in scripts if any(name.startswith("tb:v4:{response:") and ":lock:" in name
                                                 for name in names)]
    [released] = [name for names in stored for name in names if ":lock:" in name]  # the store's DEL
    if is_cluster(redis_store.client()):
        assert any(str(args[1]) == released for args in locks)
    else:
        assert not any(str(args[1]) == released for args in locks)  # no SET of its own: the lookup took it
    assert await redis_store.client().exists(released) == 0
    assert (await post(client, BOARD))["data"] == refilled["data"]


async def test_a_pages_rows_and_their_tags_are_read_from_redis_in_one_mget(client: httpx.AsyncClient) -> None:
    tag = await create_tag(client, f"one-mget-{uuid4().hex[:8]}")
    for n in range(3):
        await create_task(client, title=f"tagged {n}", tagIds=[tag])
    board = "query { tasks(first: 10) { nodes { id title tags { name } } } }"
    first = await post(client, board)
    await post(client, board + " ")  # another document: every resolver entry it reads is in Redis now
    before = cache.current().stats()
    again = await post(client, board + "  ")  # a third: its response misses, its rows and tags hit
    after = cache.current().stats()
    assert again["data"] == first["data"] and any(n["tags"] for n in first["data"]["tasks"]["nodes"])
    assert after["loads"] - before["loads"] == 1  # the response's execution only: no resolver load
    # the page ids, then the rows and the tags in the same turn: two MGETs for three reads
    assert after["reads_batched"] - before["reads_batched"] == 3
    assert after["read_batches"] - before["read_batches"] == 2


def test_what_a_document_says_is_kept_per_document_within_bounds() -> None:
    from app.graphql import response_cache

    documents = [f"query Q{n} {{ tasks(first: {n}) {{ totalCount }} }}" for n in range(response_cache._TRAITS_KEPT + 50)]
    answers = [response_cache._traits_of(document) for document in documents]
    assert answers == [(True, False)] * len(documents)
    assert len(response_cache._traits) == response_cache._TRAITS_KEPT  # the oldest went first
    assert documents[0] not in response_cache._traits and documents[-1] in response_cache._traits
    assert response_cache._traits_of("query { me { id } }") == (True, True)
    assert response_cache._traits_of("mutation { deleteTask(id: 1) { id } }") == (False, False)
    long = "query { me { id } }" + " " * response_cache._TRAITS_MAX_CHARS
    assert response_cache._traits_of(long) == (True, True) and long not in response_cache._traits
    response_cache.never_store("tasks")  # a field registered later: what was kept no longer holds
    try:
        assert response_cache._traits_of(documents[-1]) == (False, False)
    finally:
        response_cache._never_stored.discard("tasks")
        response_cache.never_store()


async def post_any(client: httpx.AsyncClient, query: str) -> dict:
    return (await client.post("/graphql", json={"query": query})).json()


async def test_mutations_are_never_served_from_the_cache(client: httpx.AsyncClient) -> None:
    query = 'mutation { createTag(name: "once", color: "#000000") { id } }'
    assert "errors" not in await post(client, query)
    again = await post(client, query)
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_a_miss_verifies_the_bearer_token_once(client: httpx.AsyncClient) -> None:
    await create_task(client, title="verified")
    calls: list[str] = []
    original = TokenVerifier.verify

    def counting(self: TokenVerifier, token: str, *args: object, **kwargs: object):
        calls.append(token)
        return original(self, token, *args, **kwargs)

    with patch.object(TokenVerifier, "verify", counting):
        miss = await post(client, BOARD + " ")  # a document not seen before: executed
        hit = await post(client, BOARD + " ")
    assert miss["data"] == hit["data"]
    assert len(calls) == 2  # one per request: the executed miss reused the cache lookup's principal
