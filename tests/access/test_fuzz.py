"""Fuzzing every query and mutation with hypothesis-generated variables against the in-process app:
never a 5xx, never an INTERNAL error, and a member's fuzzed writes never touch what they may not.

Variables follow each argument's GraphQL type, salted with hostile values: SQL and Mongo operator text,
LIKE wildcards, NUL, `$`-keys and dotted keys in JSON, out-of-range numbers and dates, ids of real rows,
and values of the wrong type (which must come back as BAD_USER_INPUT, not as a crash).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.graphql.strawberry_adapter import core_schema
from app.schema import schema
from app.stores import sql
from app.users.documents import User
from tests.access.world import World

GRAPHQL = core_schema(schema)
EXAMPLES = 30
NASTY_TEXT = [
    "", " ", "\x00", "a\x00b", "%", "_", "\\", "%_%", "'; DROP TABLE tasks; --", "' OR '1'='1", '{"$gt": ""}',
    "$where", "$gt", "$ne", ".*", "(a+)+$", "a.b", "🙂", "x" * 300, "null", "true", "0", "-1",
    "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00", "2026-13-45T99:99:99", "#ff00ff", "UTC", "Europe/Paris",
    "not-a-zone", "bob@example.com", "BOB@EXAMPLE.COM", "http://example.com/a.png", "javascript:alert(1)",
]
SAFE_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
# Text no store can hold: the server must refuse it politely (requests are sent as ASCII-escaped JSON).
UNSTORABLE = st.sampled_from(["\x00", "a\x00b", "%\x00%", "\ud800", "x\udfff"])
TEXT = st.one_of(st.sampled_from(NASTY_TEXT), SAFE_TEXT, UNSTORABLE)
KEYS = st.sampled_from(["theme", "$where", "$gt", "a.b", "", "x\x00", "nested", "__proto__"]) | SAFE_TEXT
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | SAFE_TEXT
    | st.sampled_from(NASTY_TEXT),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)
# Any JSON value where a typed one is expected: coercion must refuse it politely.
WRONG = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(KEYS, st.integers(), max_size=2))


def scalar(name: str, ids: list[str]) -> st.SearchStrategy[Any]:
    text = TEXT
    return {
        "String": text,
        "ID": st.sampled_from(ids) | st.sampled_from(ids).map(str.upper) | text,
        "Int": st.sampled_from([0, 1, -1, 20, 100, 101, 2**31 - 1, -(2**31)]) | st.integers(),
        "Float": st.floats(allow_nan=False, allow_infinity=False),
        "Boolean": st.booleans(),
        "DateTime": st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat)
        | st.sampled_from(["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2026-02-30T00:00:00"]) | text,
        "JSON": JSON,
    }.get(name, JSON)


def value(type_: Any, ids: list[str], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of a GraphQL input type (sometimes null or of the wrong type)."""
    required = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if required else type_
    if isinstance(inner, GraphQLList):
        strategy = st.lists(value(inner.of_type, ids, depth + 1), max_size=4)
    elif isinstance(inner, GraphQLEnumType):
        strategy = st.sampled_from(list(inner.values)) | st.sampled_from(["", "DROP", "todo"])
    elif isinstance(inner, GraphQLInputObjectType):
        fields = {name: value(field.type, ids, depth + 1) for name, field in inner.fields.items()}
        strategy = st.fixed_dictionaries({}, optional=fields)
    else:
        strategy = scalar(inner.name, ids)
    if depth == 0:
        strategy = st.one_of(strategy, strategy, strategy, WRONG)  # now and then a value of the wrong type
    return strategy if required else st.one_of(strategy, strategy, strategy, st.none())


def selection(type_: Any, depth: int = 0) -> str:
    """Every scalar field and, three levels deep, every object field that needs no arguments."""
    named = get_named_type(type_)
    if is_leaf_type(named) or not isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
        return ""
    parts = []
    for name, field in named.fields.items():
        if any(isinstance(arg.type, GraphQLNonNull) and arg.default_value is None for arg in field.args.values()):
            continue
        inner = get_named_type(field.type)
        if is_leaf_type(inner):
            parts.append(name)
        elif depth < 3:
            parts.append(f"{name} {selection(field.type, depth + 1)}")
    return "{ " + " ".join(parts or ["__typename"]) + " }"


def document(kind: str, name: str, field: GraphQLField) -> str:
    params = ", ".join(f"${arg}: {arg_def.type}" for arg, arg_def in field.args.items())
    call = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    return f"{kind} Fuzz{f'({params})' if params else ''} {{ {name}{f'({call})' if call else ''} {selection(field.type)} }}"


def variables(field: GraphQLField, ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    required = {n: value(a.type, ids) for n, a in field.args.items() if isinstance(a.type, GraphQLNonNull)}
    optional = {n: value(a.type, ids) for n, a in field.args.items() if not isinstance(a.type, GraphQLNonNull)}
    return st.fixed_dictionaries(required, optional=optional)


OPERATIONS = [("query", name, field) for name, field in GRAPHQL.query_type.fields.items()] + [
    ("mutation", name, field) for name, field in GRAPHQL.mutation_type.fields.items()
]


async def untouchable(world: World) -> bytes:
    """What alice (a member) may never change: others' tasks, tags, other users, and how many of each exist."""
    rows = await sql.fetch(
        "SELECT t.*, ARRAY(SELECT tag_id::text FROM task_tags WHERE task_id = t.id ORDER BY 1) AS tags "
        "FROM tasks t WHERE t.id = ANY($1::uuid[]) ORDER BY t.id", [world.bobs_task, world.roots_task]
    )
    tags = await sql.fetch("SELECT * FROM tags ORDER BY id")
    others = await User.get_pymongo_collection().find(
        {"email": {"$ne": world.alice.email}}, {"updated_at": 0}
    ).sort("email").to_list()
    foreign_audit = await sql.fetchval(
        "SELECT count(*) FROM audit_log WHERE actor_id = $1 AND entity_id = ANY($2::text[])",
        world.alice.id, [world.bobs_task, world.roots_task, world.tag, world.bob.id, world.root.id],
    )
    snapshot = {"tasks": [dict(r) for r in rows], "tags": [dict(r) for r in tags], "users": others,
                "foreign_audit": foreign_audit}
    return orjson.dumps(snapshot, default=str, option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize("caller", ["alice", "root"])
@pytest.mark.parametrize(("kind", "name", "field"), OPERATIONS, ids=[f"{k}-{n}" for k, n, _ in OPERATIONS])
async def test_fuzzed_variables_never_break_the_server(app, world: World, caller: str, kind: str, name: str,
                                                       field: GraphQLField) -> None:
    loop = asyncio.get_running_loop()
    ids = [world.alices_task, world.bobs_task, world.roots_task, world.alices_deleted_task, world.tag,
           world.alice.id, world.bob.id, world.root.id]
    query = document(kind, name, field)
    member = caller == "alice"
    baseline = await untouchable(world)
    failures: list[str] = []

    async def post(variables: dict[str, Any]) -> httpx.Response:
        # json.dumps escapes to ASCII, so even unpaired surrogates travel as valid JSON (\ud800).
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {**world.member(caller).headers(), "content-type": "application/json"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fuzz",
                                     headers=headers) as http:
            return await http.post("/graphql", content=body)

    def run_on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
    @given(variables(field, ids))
    def example(generated: dict[str, Any]) -> None:
        response = run_on_loop(post(generated))
        assert response.status_code < 500, (generated, response.text)
        body = response.json()
        found = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
        assert "INTERNAL" not in found, (generated, body)
        if member:
            assert run_on_loop(untouchable(world)) == baseline, ("a member's write touched another's data", generated)

    try:
        await asyncio.to_thread(example)
    except AssertionError as error:  # report the shrunk example hypothesis found
        failures.append(str(error)[:2000])
    assert not failures, failures[0]
