"""Audit rows for every write through the API (who, what, when, old and new values), the admin-only
auditLog query with filters and pages, and rows that commit and roll back with their write."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.data_migrations.registry import DataMigration, Outcome
from app.data_migrations.runner import run_migration
from app.stores import sql
from app.tasks.service import TAGS_PER_TASK_MAX
from tests.access.world import World
from tests.support.graphql import codes, gql

LOG = """query($f: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id at actorId actorRole action entity entityId changes requestId }
  }
}"""


@dataclass(frozen=True)
class Write:
    name: str
    actor: str
    document: str
    variables: Callable[[World], dict[str, Any]]
    entity: str
    entity_id: Callable[[World, dict], str]
    action: str
    changes: Callable[[World], dict[str, Any]]  # expected subset of the row's changes


def created_id(data: dict) -> str:
    return next(iter(data.values()))["id"]


WRITES = [
    Write("create task", "alice", 'mutation { createTask(input: {title: "audited", priority: HIGH}) { id } }',
          lambda w: {}, "task", lambda w, d: created_id(d), "create",
          lambda w: {"title": {"old": None, "new": "audited"}, "priority": {"old": None, "new": "HIGH"},
                     "creator_id": {"old": None, "new": w.alice.id}}),
    Write("update task", "alice", 'mutation($id: ID!) { updateTask(id: $id, input: {title: "new", status: COMPLETED}) '
          "{ id } }", lambda w: {"id": w.alices_task}, "task",
          lambda w, d: w.alices_task, "update",
          lambda w: {"title": {"old": "alice's", "new": "new"}, "status": {"old": "TODO", "new": "COMPLETED"}}),
    Write("soft delete", "bob", "mutation($id: ID!) { deleteTask(id: $id) { id } }", lambda w: {"id": w.bobs_task},
          "task", lambda w, d: w.bobs_task, "soft_delete", lambda w: {"deleted_at": {"old": None}}),
    Write("restore", "alice", "mutation($id: ID!) { restoreTask(id: $id) { id } }",
          lambda w: {"id": w.alices_deleted_task}, "task", lambda w, d: w.alices_deleted_task, "restore",
          lambda w: {"deleted_at": {"new": None}}),
    Write("hard delete", "root", "mutation($id: ID!) { hardDeleteTask(id: $id) { id } }",
          lambda w: {"id": w.roots_task}, "task", lambda w, d: w.roots_task, "hard_delete",
          lambda w: {"title": {"old": "root's", "new": None}, "tag_ids": {"old": [w.tag], "new": None}}),
    Write("add tags", "bob", "mutation($id: ID!, $t: [ID!]!) { addTaskTags(taskId: $id, tagIds: $t) { id } }",
          lambda w: {"id": w.bobs_task, "t": [w.tag]}, "task", lambda w, d: w.bobs_task, "add_tags",
          lambda w: {"tag_ids": {"old": [], "new": [w.tag]}}),
    Write("remove tags", "alice", "mutation($id: ID!, $t: [ID!]!) { removeTaskTags(taskId: $id, tagIds: $t) { id } }",
          lambda w: {"id": w.alices_task, "t": [w.tag]}, "task", lambda w, d: w.alices_task, "remove_tags",
          lambda w: {"tag_ids": {"old": [w.tag], "new": []}}),
    Write("bulk replace", "root", "mutation($id: ID) { bulkUpsertTasks(items: [{id: $id, title: \"bulk\"}]) "
          "{ updatedIds } }", lambda w: {"id": w.alices_task}, "task", lambda w, d: w.alices_task, "bulk_replace",
          lambda w: {"title": {"old": "alice's", "new": "bulk"}}),
    Write("create tag", "root", 'mutation { createTag(name: "audit-tag", color: "#ABCDEF") { id } }', lambda w: {},
          "tag", lambda w, d: created_id(d), "create",
          lambda w: {"name": {"old": None, "new": "audit-tag"}, "color": {"old": None, "new": "#abcdef"}}),
    Write("update tag", "root", 'mutation($id: ID!) { updateTag(id: $id, input: {color: "#000000"}) { id } }',
          lambda w: {"id": w.tag}, "tag", lambda w, d: w.tag, "update",
          lambda w: {"color": {"old": "#123456", "new": "#000000"}}),
    Write("delete tag", "root", "mutation($id: ID!) { deleteTag(id: $id) }", lambda w: {"id": w.tag}, "tag",
          lambda w, d: w.tag, "delete", lambda w: {"color": {"old": "#123456", "new": None}}),
    Write("create user", "root", 'mutation { createUser(input: {email: "audit@example.com", name: "A"}) { id } }',
          lambda w: {}, "user", lambda w, d: created_id(d), "create",
          lambda w: {"email": {"old": None, "new": "audit@example.com"}}),
    Write("update user", "alice", 'mutation($id: ID!) { updateUser(id: $id, input: {bio: "hi"}) { id } }',
          lambda w: {"id": w.alice.id}, "user", lambda w, d: w.alice.id, "update",
          lambda w: {"profile.bio": {"old": None, "new": "hi"}}),
    Write("update settings", "alice",
          'mutation($id: ID!) { updateUserSettings(id: $id, settings: {theme: "dark", n: 1}) { id } }',
          lambda w: {"id": w.alice.id}, "user", lambda w, d: w.alice.id, "update_settings",
          lambda w: {"profile.settings": {"old": {"theme": "light"}, "new": {"theme": "dark", "n": 1}}}),
    Write("delete user", "root", "mutation($id: ID!) { deleteUser(id: $id) }", lambda w: {"id": w.bob.id}, "user",
          lambda w, d: w.bob.id, "delete", lambda w: {"email": {"old": w.bob.email, "new": None}}),
]


async def audit_rows(client: httpx.AsyncClient, world: World, filters: dict) -> list[dict]:
    client.headers.update(world.root.headers())
    body = await gql(client, LOG, {"f": filters, "first": 100})
    assert "errors" not in body, body
    return body["data"]["auditLog"]["nodes"]


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
async def test_every_write_leaves_an_audit_row(client: httpx.AsyncClient, world: World, write: Write) -> None:
    # When the write runs through the API
    actor = world.member(write.actor)
    client.headers.update(actor.headers())
    started = datetime.now(UTC)
    response = await client.post("/graphql", json={"query": write.document, "variables": write.variables(world)},
                                 headers={"x-request-id": "audit-req-1"})
    body = response.json()
    assert "errors" not in body, body

    # Then one row names who did what to which object, when, with old and new values
    entity_id = write.entity_id(world, body["data"])
    [row] = await audit_rows(client, world, {"entity": write.entity, "entityId": entity_id, "actions": [write.action]})
    assert (row["actorId"], row["actorRole"]) == (actor.id, actor.role.value)
    assert row["requestId"] == "audit-req-1"
    assert abs(datetime.fromisoformat(row["at"]) - started) < timedelta(seconds=30)
    for field, expected in write.changes(world).items():
        assert {k: row["changes"][field][k] for k in expected} == expected, row["changes"]


async def test_deleting_a_user_audits_the_tasks_it_unassigns(client: httpx.AsyncClient, world: World) -> None:
    client.headers.update(world.root.headers())
    assert "errors" not in await gql(client, "mutation($id: ID!) { deleteUser(id: $id) }", {"id": world.bob.id})
    [row] = await audit_rows(client, world, {"entity": "task", "entityId": world.bobs_task, "actions": ["update"]})
    assert row["actorId"] == world.root.id
    assert row["changes"] == {"assignee_id": {"old": world.bob.id, "new": None}}


async def test_a_write_that_fails_half_way_leaves_no_audit_row(client: httpx.AsyncClient, world: World) -> None:
    # Linking one tag too many is detected after the insert: the transaction, audit row included, rolls back.
    client.headers.update(world.root.headers())
    tags = []
    for i in range(TAGS_PER_TASK_MAX):
        data = await gql(client, "mutation($n: String!) { createTag(name: $n, color: \"#111111\") { id } }",
                         {"n": f"t{i}-{uuid.uuid4().hex[:6]}"})
        tags.append(data["data"]["createTag"]["id"])
    before = await sql.fetchval("SELECT count(*) FROM audit_log")
    client.headers.update(world.alice.headers())
    body = await gql(client, "mutation($id: ID!, $t: [ID!]!) { addTaskTags(taskId: $id, tagIds: $t) { id } }",
                     {"id": world.alices_task, "t": tags})
    assert codes(body) == ["VALIDATION_FAILED"]
    assert await sql.fetchval("SELECT count(*) FROM audit_log") == before
    assert await sql.fetchval("SELECT count(*) FROM task_tags WHERE task_id = $1::uuid", world.alices_task) == 1


async def test_the_audit_log_pages_newest_first_with_filters(client: httpx.AsyncClient, world: World) -> None:
    client.headers.update(world.alice.headers())
    for title in ("one", "two", "three"):
        await gql(client, "mutation($id: ID!, $t: String) { updateTask(id: $id, input: {title: $t}) { id } }",
                  {"id": world.alices_task, "t": title})
    client.headers.update(world.root.headers())
    filters = {"actorId": world.alice.id, "entityId": world.alices_task, "actions": ["update"]}
    first = (await gql(client, LOG, {"f": filters, "first": 2}))["data"]["auditLog"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    rest = (await gql(client, LOG, {"f": filters, "first": 2, "after": first["pageInfo"]["endCursor"]}))["data"]
    titles = [n["changes"]["title"]["new"] for n in first["nodes"] + rest["auditLog"]["nodes"]]
    assert titles == ["three", "two", "one"]
    none = await gql(client, LOG, {"f": {"since": (datetime.now(UTC) + timedelta(days=1)).isoformat()}})
    assert none["data"]["auditLog"]["nodes"] == []


async def test_a_data_migration_run_is_audited(world: World) -> None:
    async def apply(*, dry_run: bool) -> Outcome:
        await sql.execute("UPDATE tasks SET title = 'migrated' WHERE id = $1::uuid", world.roots_task)
        return Outcome(changed=1, summary="renamed one task")

    name = f"audit_probe_{uuid.uuid4().hex[:6]}"
    try:
        await run_migration(name=name, registry=[DataMigration(name, "probe", apply)])
        row = await sql.fetchrow("SELECT * FROM audit_log WHERE entity = 'data_migration' AND entity_id = $1", name)
        assert row is not None and row["actor_id"] == "system:data-migrate" and row["action"] == "data_migration"
        assert '"renamed one task"' in row["changes"]
    finally:
        await sql.execute("DELETE FROM data_migrations WHERE name = $1", name)
