"""The permission matrix, cell by cell, over HTTP and over WebSocket against a real server process:
allowed cells succeed (and writes leave an audit row), denied cells answer FORBIDDEN and write nothing,
callers without a token get UNAUTHENTICATED."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.access.transport import TRANSPORTS, error_codes
from tests.access.world import World, fingerprint
from tests.support.processes import app_server


@pytest.fixture(scope="module")
def server():
    with app_server() as process:
        yield process


@dataclass(frozen=True)
class Cell:
    name: str
    document: str
    variables: Callable[[World], dict[str, Any]]
    allowed: frozenset[str]
    writes: bool = True


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


EVERYONE = frozenset({"alice", "bob", "root"})
ROOT = frozenset({"root"})
ALICE = frozenset({"alice", "root"})
BOB = frozenset({"bob", "root"})

UPDATE_TASK = 'mutation($id: ID!) { updateTask(id: $id, input: {title: "changed"}) { id } }'
DELETE_TASK = "mutation($id: ID!) { deleteTask(id: $id) { id } }"
UPDATE_USER = 'mutation($id: ID!) { updateUser(id: $id, input: {name: "Changed"}) { id } }'
UPDATE_SETTINGS = 'mutation($id: ID!) { updateUserSettings(id: $id, settings: {theme: "dark"}) { id } }'
ADD_TAGS = "mutation($id: ID!, $tags: [ID!]!) { addTaskTags(taskId: $id, tagIds: $tags) { id } }"
REMOVE_TAGS = "mutation($id: ID!, $tags: [ID!]!) { removeTaskTags(taskId: $id, tagIds: $tags) { id } }"

CELLS = [
    Cell("create a task", 'mutation { createTask(input: {title: "new"}) { id creatorId } }', lambda w: {}, EVERYONE),
    Cell("update own task", UPDATE_TASK, lambda w: {"id": w.alices_task}, ALICE),
    Cell("update assigned task", UPDATE_TASK, lambda w: {"id": w.bobs_task}, BOB),
    Cell("update someone else's task", UPDATE_TASK, lambda w: {"id": w.roots_task}, ROOT),
    Cell("soft-delete own task", DELETE_TASK, lambda w: {"id": w.alices_task}, ALICE),
    Cell("soft-delete assigned task", DELETE_TASK, lambda w: {"id": w.bobs_task}, BOB),
    Cell("restore own task", "mutation($id: ID!) { restoreTask(id: $id) { id } }",
         lambda w: {"id": w.alices_deleted_task}, ALICE),
    Cell("hard-delete a task", "mutation($id: ID!) { hardDeleteTask(id: $id) { id } }",
         lambda w: {"id": w.alices_task}, ROOT),
    Cell("tag assigned task", ADD_TAGS, lambda w: {"id": w.bobs_task, "tags": [w.tag]}, BOB),
    Cell("untag own task", REMOVE_TAGS, lambda w: {"id": w.alices_task, "tags": [w.tag]}, ALICE),
    Cell("untag someone else's task", REMOVE_TAGS, lambda w: {"id": w.roots_task, "tags": [w.tag]}, ROOT),
    Cell("bulk upsert", 'mutation { bulkUpsertTasks(items: [{title: "bulk"}]) { createdIds } }', lambda w: {}, ROOT),
    Cell("bulk replace own task", 'mutation($id: ID) { bulkUpsertTasks(items: [{id: $id, title: "x"}]) { updatedIds } }',
         lambda w: {"id": w.alices_task}, ROOT),
    Cell("create a tag", 'mutation($name: String!) { createTag(name: $name, color: "#00ff00") { id } }',
         lambda w: {"name": unique("matrix")}, ROOT),
    Cell("rename a tag", "mutation($id: ID!, $name: String) { updateTag(id: $id, input: {name: $name}) { id } }",
         lambda w: {"id": w.tag, "name": unique("renamed")}, ROOT),
    Cell("delete a tag", "mutation($id: ID!) { deleteTag(id: $id) }", lambda w: {"id": w.tag}, ROOT),
    Cell("create a user", "mutation($email: String!) { createUser(input: {email: $email}) { id } }",
         lambda w: {"email": unique("new") + "@example.com"}, ROOT),
    Cell("delete a user", "mutation($id: ID!) { deleteUser(id: $id) }", lambda w: {"id": w.bob.id}, ROOT),
    Cell("update own profile", UPDATE_USER, lambda w: {"id": w.alice.id}, ALICE),
    Cell("update another profile", UPDATE_USER, lambda w: {"id": w.bob.id}, BOB),
    Cell("write own settings", UPDATE_SETTINGS, lambda w: {"id": w.alice.id}, ALICE),
    Cell("write another's settings", UPDATE_SETTINGS, lambda w: {"id": w.bob.id}, BOB),
    Cell("read the audit log", "{ auditLog(first: 1) { totalCount } }", lambda w: {}, ROOT, writes=False),
    Cell("list soft-deleted tasks", "{ tasks(includeDeleted: true) { totalCount } }", lambda w: {}, ROOT, writes=False),
    Cell("read a soft-deleted task", "query($id: ID!) { task(id: $id, includeDeleted: true) { id } }",
         lambda w: {"id": w.alices_deleted_task}, ROOT, writes=False),
    Cell("sort users by email", "{ users(sort: EMAIL_ASC, first: 1) { nodes { id } } }", lambda w: {}, ROOT,
         writes=False),
    Cell("read tasks, tags, users", "{ tasks(first: 5) { totalCount } tags { taskCount } users(first: 5) { totalCount } "
         "userStats { taskCount } me { id } }", lambda w: {}, EVERYONE, writes=False),
]


@pytest.mark.parametrize("transport", ["http", "ws"])
@pytest.mark.parametrize("caller", ["alice", "bob", "root"])
@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
async def test_matrix_cell(server, world: World, cell: Cell, caller: str, transport: str) -> None:
    # Given the team and a caller
    before = await fingerprint(world)

    # When the caller runs the operation
    body = await TRANSPORTS[transport](
        server.base_url, cell.document, cell.variables(world), world.member(caller).token()
    )

    # Then it is allowed exactly where the matrix says so
    after = await fingerprint(world)
    if caller in cell.allowed:
        assert "errors" not in body, body
        if cell.writes:
            assert after != before  # at least the audit row
    else:
        assert error_codes(body) == ["FORBIDDEN"], body
        assert after == before, "a denied operation wrote something"


@pytest.mark.parametrize("transport", ["http", "ws"])
@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
async def test_without_a_token_every_cell_is_unauthenticated(server, world: World, cell: Cell, transport: str) -> None:
    before = await fingerprint(world)
    body = await TRANSPORTS[transport](server.base_url, cell.document, cell.variables(world), None)
    assert error_codes(body) == ["UNAUTHENTICATED"], body
    assert body.get("data") is None
    assert await fingerprint(world) == before
