"""`taskChanged` and soft-deleted tasks: a member hears of a task while it is live and of the deletion that ends
its life, nothing after (whatever write touches the deleted task); an admin hears everything.

Over real WebSockets against a real server. Absence is proven by order, not by a timeout: after each hidden
write comes a write to a live task, and the member's next event must be that one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from bson import ObjectId

from app.auth.principal import SYSTEM
from app.tags import service as tags
from app.tasks import service as tasks
from app.tasks.assignments import repair_dangling_assignees
from app.users import service as users
from app.users.documents import User
from tests.access.transport import over_http
from tests.access.world import World
from tests.support.processes import app_server
from tests.support.ws import Subscriber, counters_delta, subscription, subscription_counters

CHANGED = "subscription { taskChanged { kind task { id title deletedAt assigneeId tags { name } } } }"


@pytest.fixture(scope="module")
def server():
    with app_server() as process:
        yield process


@dataclass(frozen=True)
class Hidden:
    """A soft-deleted task assigned to carol and carrying a tag no live task carries."""

    task: str
    carol: str
    tag: str


@pytest.fixture
async def hidden(world: World) -> Hidden:
    suffix = uuid.uuid4().hex[:8]
    carol = await users.create_user(email=f"carol-{suffix}@example.com", actor=SYSTEM)
    tag = await tags.create_tag(name=f"secret-{suffix}", color="#654321", actor=SYSTEM)
    task = await tasks.create_task(title="hidden", assignee_id=str(carol.id), tag_ids=[tag.id],
                                   actor=world.root.principal)
    await tasks.soft_delete_task(task_id=task.id, actor=world.root.principal)
    return Hidden(task.id, str(carol.id), tag.id)


async def as_root(server, world: World, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = await over_http(server.base_url, query, variables, world.root.token())
    assert "errors" not in body, body
    return body["data"]


async def touch_live_task(server, world: World, title: str) -> None:
    """A change every subscriber may see: the marker that proves what came before it was delivered."""
    await as_root(server, world, 'mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }',
                  {"id": world.roots_task, "t": title})


async def next_event(subscriber: Subscriber) -> dict[str, Any]:
    return (await subscriber.next_payload())["data"]["taskChanged"]


async def subscribed(member: Subscriber, admin: Subscriber, server, world: World) -> None:
    """Both subscriptions are live: each has received a change written after they subscribed."""
    await touch_live_task(server, world, "primed")
    for subscriber in (member, admin):
        assert (await next_event(subscriber))["task"]["title"] == "primed"


def init(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def delete_the_assignee(server, world: World, hidden: Hidden) -> None:
    await as_root(server, world, "mutation($id: ID!) { deleteUser(id: $id) }", {"id": hidden.carol})


async def bulk_upsert_its_id(server, world: World, hidden: Hidden) -> None:
    data = await as_root(server, world, "mutation($items: [TaskUpsertInput!]!) { bulkUpsertTasks(items: $items) "
                         "{ updatedIds } }", {"items": [{"id": hidden.task, "title": "edited while deleted"}]})
    assert data["bulkUpsertTasks"]["updatedIds"] == [hidden.task]


async def rename_its_tag(server, world: World, hidden: Hidden) -> None:
    await as_root(server, world, 'mutation($id: ID!) { updateTag(id: $id, input: {name: "renamed-secret"}) { id } }',
                  {"id": hidden.tag})


async def delete_its_tag(server, world: World, hidden: Hidden) -> None:
    await as_root(server, world, "mutation($id: ID!) { deleteTag(id: $id) }", {"id": hidden.tag})


async def purge_it(server, world: World, hidden: Hidden) -> None:
    await as_root(server, world, "mutation($id: ID!) { hardDeleteTask(id: $id) { id } }", {"id": hidden.task})


async def repair_its_dangling_assignee(server, world: World, hidden: Hidden) -> None:
    # The user document vanished without the unassigning (a crash between the two stores): the repair clears it.
    await User.get_pymongo_collection().delete_one({"_id": ObjectId(hidden.carol)})
    assert await repair_dangling_assignees() == 1


HIDDEN_WRITES: dict[str, tuple[Callable[..., Awaitable[None]], str]] = {
    "user delete unassigns it": (delete_the_assignee, "UPDATED"),
    "bulk upsert of its id": (bulk_upsert_its_id, "UPDATED"),
    "its tag renamed": (rename_its_tag, "TAGS_CHANGED"),
    "its tag deleted": (delete_its_tag, "TAGS_CHANGED"),
    "hard delete of the deleted task": (purge_it, "DELETED"),
    "dangling assignee repaired": (repair_its_dangling_assignee, "UPDATED"),
}


@pytest.mark.parametrize("path", list(HIDDEN_WRITES))
async def test_members_hear_nothing_of_writes_to_a_soft_deleted_task(
    server, world: World, hidden: Hidden, path: str
) -> None:
    write, kind = HIDDEN_WRITES[path]
    # Given a member and an admin subscribed
    async with (
        subscription(server.base_url, CHANGED, init_payload=init(world.alice.token())) as member,
        subscription(server.base_url, CHANGED, init_payload=init(world.root.token())) as admin,
    ):
        await subscribed(member, admin, server, world)
        # When a write changes the soft-deleted task, followed by a change to a live task
        await write(server, world, hidden)
        await touch_live_task(server, world, "after")

        # Then the admin hears of both, in order
        admin_event = await next_event(admin)
        assert (admin_event["kind"], admin_event["task"]["id"]) == (kind, hidden.task)
        assert admin_event["task"]["deletedAt"] is not None
        assert (await next_event(admin))["task"]["title"] == "after"
        # and the member's next event is the live one: nothing came before it
        member_event = await next_event(member)
        assert (member_event["task"]["id"], member_event["task"]["title"]) == (world.roots_task, "after")


@pytest.mark.parametrize("mutation", ["deleteTask", "hardDeleteTask"])
async def test_members_hear_of_the_deletion_of_a_live_task(server, world: World, mutation: str) -> None:
    async with (
        subscription(server.base_url, CHANGED, init_payload=init(world.alice.token())) as member,
        subscription(server.base_url, CHANGED, init_payload=init(world.root.token())) as admin,
    ):
        await subscribed(member, admin, server, world)
        await as_root(server, world, f"mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}", {"id": world.alices_task})

        events = [await next_event(member), await next_event(admin)]
    for event in events:
        assert (event["kind"], event["task"]["id"], event["task"]["title"]) == ("DELETED", world.alices_task, "alice's")


async def test_a_hidden_event_is_executed_once_for_the_admins_and_a_live_one_once_for_everyone(
    server, world: World, hidden: Hidden
) -> None:
    # Given two admins and two sockets of one member on one document
    async with AsyncExitStack() as stack:
        admins = [await stack.enter_async_context(
            subscription(server.base_url, CHANGED, init_payload=init(world.root.token()))) for _ in range(2)]
        members = [await stack.enter_async_context(
            subscription(server.base_url, CHANGED, init_payload=init(world.alice.token()))) for _ in range(2)]
        await touch_live_task(server, world, "primed")
        for subscriber in admins + members:
            assert (await next_event(subscriber))["task"]["title"] == "primed"
        before = await subscription_counters(server.base_url)

        # When the soft-deleted task changes, then a live one
        await bulk_upsert_its_id(server, world, hidden)
        await touch_live_task(server, world, "after")
        admin_events = [[await next_event(admin) for _ in range(2)] for admin in admins]
        member_events = [await next_event(member) for member in members]
        after = await subscription_counters(server.base_url)

    # Then the admins got both events, the members only the live one
    for events in admin_events:
        assert [event["task"]["id"] for event in events] == [hidden.task, world.roots_task]
    assert [event["task"]["title"] for event in member_events] == ["after", "after"]
    # and the hidden event ran once (for the admins, shared by the second); the live one once for all four
    assert counters_delta(after, before) == {"executed": 2, "shared": 4, "masked": 0, "unmaskable": 0}
