"""One execution per (document, variables) per event for subscribers of any rights, masked per subscriber, and
exactly what an execution as each subscriber gives.

Two servers on the same stores hear every event: one shares executions across rights (the default), the other
executes once per set of rights (SUBSCRIPTIONS_SHARE_ACROSS_RIGHTS=false, today's per-principal execution).
Every principal subscribes to both; each must get the same payloads from both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from app.auth.principal import Role
from tests.support.auth import admin_headers, bearer
from tests.support.processes import app_server
from tests.support.ws import Subscriber, counters_delta, post_as_admin, subscription, subscription_counters

EVERYTHING = """subscription {
  taskChanged {
    kind changedFields
    task {
      id title deletedAt assigneeId tags { name }
      assignee { id name email tasks(first: 3) { nodes { id title assignee { id email } } } }
    }
  }
}"""
TITLED = "subscription($withTitle: Boolean!) { taskChanged { task { id title @include(if: $withTitle) assignee { email } } } }"
MEMBERS = 4


@pytest.fixture(scope="module")
def servers():
    env = {"JWT_LEEWAY_S": "0"}
    with app_server(env) as shared, app_server({**env, "SUBSCRIPTIONS_SHARE_ACROSS_RIGHTS": "false"}) as per_rights:
        yield shared, per_rights


async def create_user(base_url: str, n: int) -> str:
    suffix = f"{n}-{id(object())}"
    data = await post_as_admin(base_url, 'mutation($e: String!) { createUser(input: {email: $e, name: "M"}) { id } }',
                          {"e": f"multiplex-{suffix}@example.com"})
    return data["createUser"]["id"]


@asynccontextmanager
async def both(servers, query: str, init: dict[str, str], variables: dict | None = None) -> AsyncIterator[
        tuple[Subscriber, Subscriber]]:
    """The same subscription on the sharing server and on the per-rights one."""
    async with (
        subscription(servers[0].base_url, query, variables, init_payload=init) as shared,
        subscription(servers[1].base_url, query, variables, init_payload=init) as per_rights,
    ):
        yield shared, per_rights


async def next_pairs(pairs: list[tuple[Subscriber, Subscriber]]) -> list[tuple[dict, dict]]:
    return list(zip(*[await asyncio.gather(*(s.next_payload() for s in side)) for side in zip(*pairs)]))


async def test_members_and_an_admin_get_what_executing_as_each_of_them_gives_from_one_execution(servers) -> None:
    shared_url = servers[0].base_url
    # Given members (the first is the assignee) and an admin, each subscribed to both servers
    member_ids = [await create_user(shared_url, n) for n in range(MEMBERS)]
    inits = [bearer(member_id, Role.MEMBER) for member_id in member_ids] + [admin_headers()]
    async with AsyncExitStack() as stack:
        pairs = [await stack.enter_async_context(both(servers, EVERYTHING, init)) for init in inits]
        before = await subscription_counters(shared_url)

        # When a task assigned to the first member is created
        created = await post_as_admin(shared_url, "mutation($a: ID!) { createTask(input: {title: \"mux\", assigneeId: $a}) "
                                 "{ id } }", {"a": member_ids[0]})
        task_id = created["createTask"]["id"]
        payloads = await next_pairs(pairs)

        # Then every subscriber gets from the sharing server exactly what its own execution gives
        for shared, own in payloads:
            assert shared == own
        emails = [p["data"]["taskChanged"]["task"]["assignee"]["email"] for p, _ in payloads]
        assert emails[0] is not None and emails[-1] == emails[0]  # the assignee herself and the admin
        assert emails[1:-1] == [None] * (MEMBERS - 1)
        nested = [p["data"]["taskChanged"]["task"]["assignee"]["tasks"]["nodes"][0]["assignee"]["email"]
                  for p, _ in payloads]
        assert nested == emails  # masked at every depth
        # and the event cost one execution, four shared results of which three were masked
        assert counters_delta(await subscription_counters(shared_url), before) == {"executed": 1, "shared": MEMBERS, "masked": MEMBERS - 1,
                                                             "unmaskable": 0}

        # When the task is soft-deleted: everyone hears of it, as before
        before = await subscription_counters(shared_url)
        await post_as_admin(shared_url, "mutation($id: ID!) { deleteTask(id: $id) { id } }", {"id": task_id})
        payloads = await next_pairs(pairs)
        for shared, own in payloads:
            assert shared == own
            assert shared["data"]["taskChanged"]["kind"] == "DELETED"
        assert counters_delta(await subscription_counters(shared_url), before)["executed"] == 1

        # When the deleted task changes again, then a live one: members hear only the live one, the admin both
        live = await post_as_admin(shared_url, 'mutation { createTask(input: {title: "live"}) { id } }')
        await next_pairs(pairs)
        before = await subscription_counters(shared_url)
        await post_as_admin(shared_url, "mutation($items: [TaskUpsertInput!]!) { bulkUpsertTasks(items: $items) "
                       "{ updatedIds } }", {"items": [{"id": task_id, "title": "edited while deleted"}]})
        await post_as_admin(shared_url, 'mutation($id: ID!) { updateTask(id: $id, input: {title: "marker"}) { id } }',
                       {"id": live["createTask"]["id"]})
        member_events = await next_pairs(pairs[:-1])
        admin_events = [*await next_pairs(pairs[-1:]), *await next_pairs(pairs[-1:])]
        for shared, own in member_events + admin_events:
            assert shared == own
        assert {shared["data"]["taskChanged"]["task"]["title"] for shared, _ in member_events} == {"marker"}
        assert [shared["data"]["taskChanged"]["task"]["title"] for shared, _ in admin_events] == [
            "edited while deleted", "marker"]
        # the hidden event ran once, for the admin alone; the live one once for everyone
        assert counters_delta(await subscription_counters(shared_url), before) == {"executed": 2, "shared": MEMBERS, "masked": 0,
                                                             "unmaskable": 0}


async def test_subscribers_with_other_variables_get_their_own_execution(servers) -> None:
    shared_url = servers[0].base_url
    member_id = await create_user(shared_url, 99)
    async with AsyncExitStack() as stack:
        titled_admin = await stack.enter_async_context(
            subscription(shared_url, TITLED, {"withTitle": True}, init_payload=admin_headers()))
        titled_member = await stack.enter_async_context(
            subscription(shared_url, TITLED, {"withTitle": True}, init_payload=bearer(member_id, Role.MEMBER)))
        untitled_member = await stack.enter_async_context(
            subscription(shared_url, TITLED, {"withTitle": False}, init_payload=bearer(member_id, Role.MEMBER)))
        before = await subscription_counters(shared_url)

        created = await post_as_admin(shared_url, 'mutation($a: ID!) { createTask(input: {title: "vars", assigneeId: $a}) '
                                 "{ id } }", {"a": member_id})
        task_id = created["createTask"]["id"]
        admin_view, member_view, untitled_view = [
            (await s.next_payload())["data"]["taskChanged"]["task"] for s in (titled_admin, titled_member,
                                                                             untitled_member)]
    assert admin_view["title"] == member_view["title"] == "vars" and admin_view["id"] == task_id
    assert admin_view["assignee"]["email"] == member_view["assignee"]["email"] is not None  # her own task
    assert untitled_view == {"id": task_id, "assignee": {"email": admin_view["assignee"]["email"]}}
    # one execution per variable set: the member with the admin's variables shares the admin's
    assert counters_delta(await subscription_counters(shared_url), before) == {"executed": 2, "shared": 1, "masked": 0, "unmaskable": 0}


async def test_a_subscriber_whose_token_expires_is_ended_and_the_others_still_share_one_execution(servers) -> None:
    shared_url = servers[0].base_url
    member_ids = [await create_user(shared_url, 100 + n) for n in range(2)]
    async with AsyncExitStack() as stack:
        # Given two members on one document, the first with a token that expires in a few seconds
        # (whole seconds from a floored iat: 5 s leaves 4 to 5), and an admin
        expiring = await stack.enter_async_context(
            subscription(shared_url, EVERYTHING, init_payload=bearer(member_ids[0], Role.MEMBER, ttl_s=5)))
        staying = await stack.enter_async_context(
            subscription(shared_url, EVERYTHING, init_payload=bearer(member_ids[1], Role.MEMBER)))
        admin = await stack.enter_async_context(subscription(shared_url, EVERYTHING))

        # When the token expires, its stream ends as it always has
        message = await expiring.next_message(timeout=30)
        assert message["type"] == "next", message
        errors = message["payload"]["errors"]
        assert [(e["extensions"]["code"], e["extensions"]["reason"]) for e in errors] == [("UNAUTHENTICATED", "expired")]
        assert (await expiring.next_message(timeout=30))["type"] == "complete"

        # and the next event reaches the other two from one execution, masked for the member
        before = await subscription_counters(shared_url)
        await post_as_admin(shared_url, 'mutation($a: ID!) { createTask(input: {title: "after expiry", assigneeId: $a}) '
                       "{ id } }", {"a": member_ids[0]})
        member_event, admin_event = [(await s.next_payload())["data"]["taskChanged"] for s in (staying, admin)]
    assert member_event["task"]["assignee"]["email"] is None
    assert admin_event["task"]["assignee"]["email"] is not None
    assert counters_delta(await subscription_counters(shared_url), before) == {"executed": 1, "shared": 1, "masked": 1, "unmaskable": 0}
