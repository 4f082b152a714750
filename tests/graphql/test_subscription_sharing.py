"""Subscribers of one document and variables share one execution per event, whatever their rights (each gets it
masked for its own rights); subscribers whose variables differ never do."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from app.auth.principal import Role
from tests.support.auth import bearer
from tests.support.processes import app_server
from tests.support.ws import counters_delta, post_as_admin, subscription, subscription_counters

WITH_EMAIL = "subscription { taskChanged { kind task { id title assignee { id email } } } }"
WITH_VARIABLE = "subscription($withTitle: Boolean!) { taskChanged { task { id title @include(if: $withTitle) } } }"


@pytest.fixture(scope="module")
def server():
    with app_server() as instance:
        yield instance


async def test_subscribers_of_any_rights_share_one_execution_and_different_variables_do_not(server) -> None:
    url = server.base_url
    owner = (await post_as_admin(url, 'mutation { createUser(input: {email: "owner@example.com", name: "Owner"}) { id } }'))
    owner_id = owner["createUser"]["id"]
    other_id = "b1b1b1b1b1b1b1b1b1b1b1b1"
    async with AsyncExitStack() as stack:
        # Given three admins on one document, a member who is not the assignee, the assignee herself,
        # and two admins whose variables change the selection
        admins = [await stack.enter_async_context(subscription(url, WITH_EMAIL)) for _ in range(3)]
        stranger = await stack.enter_async_context(
            subscription(url, WITH_EMAIL, init_payload=bearer(other_id, Role.MEMBER)))
        assignee = await stack.enter_async_context(
            subscription(url, WITH_EMAIL, init_payload=bearer(owner_id, Role.MEMBER)))
        titled = await stack.enter_async_context(subscription(url, WITH_VARIABLE, {"withTitle": True}))
        untitled = await stack.enter_async_context(subscription(url, WITH_VARIABLE, {"withTitle": False}))
        before = await subscription_counters(url)

        # When one task is created
        created = (await post_as_admin(url, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                              {"i": {"title": "shared", "assigneeId": owner_id}}))["createTask"]
        payloads = await asyncio.gather(*(s.next_payload() for s in (*admins, stranger, assignee, titled, untitled)))

        # Then every subscriber sees what its own rights and variables allow
        admin_view = {"kind": "CREATED", "task": {"id": created["id"], "title": "shared",
                                                  "assignee": {"id": owner_id, "email": "owner@example.com"}}}
        assert [p["data"]["taskChanged"] for p in payloads[:3]] == [admin_view] * 3
        assert payloads[3]["data"]["taskChanged"]["task"]["assignee"] == {"id": owner_id, "email": None}
        assert payloads[4]["data"]["taskChanged"]["task"]["assignee"] == {"id": owner_id, "email": "owner@example.com"}
        assert payloads[5]["data"]["taskChanged"]["task"] == {"id": created["id"], "title": "shared"}
        assert payloads[6]["data"]["taskChanged"]["task"] == {"id": created["id"]}
        # and the five subscribers of the first document cost one execution (the stranger's copy masked), the
        # two variable sets one each
        assert counters_delta(await subscription_counters(url), before) == {"executed": 3, "shared": 4, "masked": 1, "unmaskable": 0}

        # When the task changes again, the next event executes afresh (nothing is reused across events)
        before = await subscription_counters(url)
        await post_as_admin(url, "mutation($id: ID!) { updateTask(id: $id, input: {title: \"renamed\"}) { id } }",
                   {"id": created["id"]})
        renamed = await asyncio.gather(*(s.next_payload() for s in admins))
        assert {p["data"]["taskChanged"]["task"]["title"] for p in renamed} == {"renamed"}
        assert {p["data"]["taskChanged"]["kind"] for p in renamed} == {"UPDATED"}
        await asyncio.gather(*(s.next_payload() for s in (stranger, assignee, titled, untitled)))
        assert counters_delta(await subscription_counters(url), before) == {"executed": 3, "shared": 4, "masked": 1, "unmaskable": 0}

