"""Changing one's email to a taken address answers CONFLICT, so each try is a probe of who is registered. Every
try is audited (never with the address tried), and a member pays EMAIL_CHANGE_COST extra for each, so
repeated probes run out of budget quickly."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from graphql import parse

from app.auth.principal import Principal, Role
from app.graphql.surcharges import surcharge
from app.settings import Settings
from app.stores import sql
from tests.access.transport import error_codes, over_http
from tests.access.world import Member, World
from tests.support.processes import app_server

EMAIL_CHANGE_COST = 500
POINTS = 2_500
# A window this long refills one point every 43 s: a test never sees a refill it does not account for.
WINDOW_S = 86_400

UPDATE = "mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }"
TWO_PROBES = ("mutation($id: ID!) { a: updateUser(id: $id, input: {email: \"x1@example.com\"}) { id } "
              "b: updateUser(id: $id, input: {email: \"x2@example.com\"}) { id } }")


@pytest.fixture(scope="module")
def server():
    with app_server({
        "EMAIL_CHANGE_COST": str(EMAIL_CHANGE_COST), "RATE_LIMIT_POINTS": str(POINTS),
        "RATE_LIMIT_WINDOW_S": str(WINDOW_S), "QUERY_MAX_COST": "1000",
    }) as process:
        yield process


async def update_user(server, caller: Member, user_id: str, **input_: Any) -> dict[str, Any]:
    return await over_http(server.base_url, UPDATE, {"id": user_id, "input": input_}, caller.token())


async def attempt_rows() -> list[dict[str, Any]]:
    rows = await sql.fetch(
        "SELECT actor_id, actor_role, entity, entity_id, changes::text AS changes FROM audit_log "
        "WHERE action = 'email_change_attempt' ORDER BY at, id"
    )
    return [dict(row) for row in rows]


def outcome(row: dict[str, Any]) -> str:
    return orjson.loads(row["changes"])["outcome"]["new"]


async def test_every_email_change_attempt_is_audited_without_the_address_tried(server, world: World) -> None:
    alice, bob = world.alice, world.bob
    # When alice tries bob's address, an invalid one, bob's user, and finally a free address
    taken = await update_user(server, alice, alice.id, email=bob.email.upper())
    invalid = await update_user(server, alice, alice.id, email="not an address")
    someone_else = await update_user(server, alice, bob.id, email="mine@example.com")
    free = await update_user(server, alice, alice.id, email="alice.new@example.com")
    plain = await update_user(server, alice, alice.id, name="No email here")

    # Then the answers are what they always were
    assert error_codes(taken) == ["CONFLICT"]
    assert error_codes(invalid) == ["VALIDATION_FAILED"]
    assert error_codes(someone_else) == ["FORBIDDEN"]
    assert "errors" not in free and "errors" not in plain
    # and each try that gave an email left one row naming who, on whom, and the outcome
    rows = await attempt_rows()
    assert [(r["actor_id"], r["actor_role"], r["entity"], r["entity_id"], outcome(r)) for r in rows] == [
        (alice.id, "member", "user", alice.id, "CONFLICT"),
        (alice.id, "member", "user", alice.id, "VALIDATION_FAILED"),
        (alice.id, "member", "user", bob.id, "FORBIDDEN"),
        (alice.id, "member", "user", alice.id, "OK"),
    ]
    # and nothing else: never the address tried
    assert [orjson.loads(r["changes"]) for r in rows] == [
        {"outcome": {"old": None, "new": outcome(r)}} for r in rows
    ]


async def test_a_members_email_change_costs_the_surcharge_and_the_budget_drops_by_it(server, world: World) -> None:
    alice = world.alice
    # Given the same mutation without and with an email
    started = time.monotonic()
    first = await update_user(server, alice, alice.id, name="Alice One")
    probe = await update_user(server, alice, alice.id, email=world.bob.email)
    second = await update_user(server, alice, alice.id, name="Alice Two")
    refill_bound = int((time.monotonic() - started) * POINTS / WINDOW_S) + 1

    # Then the email change reports the surcharge in its cost
    base = first["extensions"]["cost"]
    assert second["extensions"]["cost"] == base
    assert probe["extensions"]["cost"] == base + EMAIL_CHANGE_COST
    # and the remaining budget dropped by exactly that (give or take what refilled meanwhile)
    remaining = [body["extensions"]["rateLimit"]["remaining"] for body in (first, probe, second)]
    assert base + EMAIL_CHANGE_COST - refill_bound <= remaining[0] - remaining[1] <= base + EMAIL_CHANGE_COST
    assert base - refill_bound <= remaining[1] - remaining[2] <= base


async def test_each_aliased_email_change_pays_and_admins_pay_no_surcharge(server, world: World) -> None:
    two = await over_http(server.base_url, TWO_PROBES, {"id": world.alice.id}, world.alice.token())
    admin = await update_user(server, world.root, world.alice.id, email="by.root@example.com")
    admin_plain = await update_user(server, world.root, world.alice.id, name="Renamed by root")

    assert two["extensions"]["cost"] >= 2 * EMAIL_CHANGE_COST
    assert admin["extensions"]["cost"] == admin_plain["extensions"]["cost"]
    assert "errors" not in admin
    assert [outcome(r) for r in await attempt_rows()] == ["OK", "OK", "OK"]


async def test_repeated_probes_are_rate_limited_quickly(server, world: World) -> None:
    alice, bob = world.alice, world.bob
    # When alice probes one address after another on a budget of POINTS
    answers = []
    for index in range(10):
        body = await update_user(server, alice, alice.id, email=(bob.email, world.root.email)[index % 2])
        answers.append(error_codes(body) or ["OK"])
        if answers[-1] == ["RATE_LIMITED"]:
            break

    # Then the budget covers only a few tries (POINTS // EMAIL_CHANGE_COST at most), and then RATE_LIMITED
    assert answers[-1] == ["RATE_LIMITED"]
    assert set(map(tuple, answers[:-1])) == {("CONFLICT",)}
    assert len(answers) - 1 <= POINTS // EMAIL_CHANGE_COST
    # while a change without an email still fits in what is left
    assert "errors" not in await update_user(server, alice, alice.id, name="Still here")
    # and only the tries that ran were audited
    assert len(await attempt_rows()) == len(answers) - 1


MEMBER = Principal(user_id="c" * 24, role=Role.MEMBER)
ADMIN = Principal(user_id="d" * 24, role=Role.ADMIN)


@pytest.mark.parametrize(
    ("document", "variables", "tries"),
    [
        ('mutation { updateUser(id: "u", input: {email: "e@x.io"}) { id } }', {}, 1),
        ('mutation { updateUser(id: "u", input: {name: "n"}) { id } }', {}, 0),
        ("mutation($i: UpdateUserInput!) { updateUser(id: \"u\", input: $i) { id } }", {"i": {"email": None}}, 1),
        ("mutation($i: UpdateUserInput!) { updateUser(id: \"u\", input: $i) { id } }", {"i": {"name": "n"}}, 0),
        ('mutation($i: UpdateUserInput! = {email: "d@x.io"}) { updateUser(id: "u", input: $i) { id } }', {}, 1),
        ('mutation($e: String) { updateUser(id: "u", input: {email: $e}) { id } }', {}, 0),
        ('mutation($e: String) { updateUser(id: "u", input: {email: $e}) { id } }', {"e": "e@x.io"}, 1),
        # Through fragments (each spread once) and aliases (each alias runs, so each pays; equal keys merge)
        ('mutation { ...F ...F ... on Mutation { b: updateUser(id: "u", input: {email: "b@x.io"}) { id } } } '
         'fragment F on Mutation { a: updateUser(id: "u", input: {email: "a@x.io"}) { id } }', {}, 2),
        ('mutation { updateUser(id: "u", input: {email: "a@x.io"}) { id } '
         'updateUser(id: "u", input: {email: "a@x.io"}) { id } }', {}, 1),
        ('mutation One { updateUser(id: "u", input: {email: "a@x.io"}) { id } } '
         'mutation Two { createTag(name: "t", color: "#000000") { id } }', {}, 0),
    ],
)
def test_the_surcharge_counts_each_email_change_the_operation_runs(
    document: str, variables: dict, tries: int, settings: Settings
) -> None:
    operation = "Two" if "mutation Two" in document else None
    charged = surcharge(document=parse(document), operation_name=operation, variables=variables,
                        principal=MEMBER, settings=settings)
    assert charged == tries * settings.email_change_cost
    assert surcharge(document=parse(document), operation_name=operation, variables=variables, principal=ADMIN,
                     settings=settings) == 0
