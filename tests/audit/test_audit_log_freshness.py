"""An admin sees every committed audit row at once, on any instance, with the response cache on.

Audit rows bump no cache stamp, and a user write announces its change (bumping the user stamps) before its
audit row is written (MongoDB and PostgreSQL share no transaction). Here a second instance reads the audit
log while the writer's audit insert is held back by a table lock, i.e. after the stamps moved and before the
row exists: whatever it read then must not be what it answers once the write is done."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from tests.access.transport import error_codes, over_http
from tests.graphql.test_subscriptions import create_task, post
from tests.support.auth import token_for
from tests.support.processes import app_server

# Aliased and through a fragment: the cache must recognise the field however the document selects it.
AUDIT = ("{ log: auditLog(first: 50) { ...rows } } "
         "fragment rows on AuditEntryConnection { nodes { action entity entityId } }")


@pytest.fixture(scope="module")
def two_instances():
    with app_server({"CACHE_ENABLED": "true"}) as a, app_server({"CACHE_ENABLED": "true"}) as b:
        yield a, b


async def audit_rows(base_url: str) -> list[tuple[str, str, str]]:
    return [(n["action"], n["entity"], n["entityId"]) for n in (await post(base_url, AUDIT))["log"]["nodes"]]


@asynccontextmanager
async def audit_inserts_held() -> AsyncIterator[None]:
    """Blocks every INSERT into audit_log (reads go on) until the block ends."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await conn.close()


async def an_audit_insert_is_waiting() -> None:
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO \"audit_log\"%' AND datname = current_database()"
            )
        finally:
            await conn.close()
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the write never reached its audit insert")


async def create_user(base_url: str) -> str:
    email = f"audited-{uuid.uuid4().hex[:12]}@example.com"
    data = await post(base_url, "mutation($e: String!) { createUser(input: {email: $e}) { id } }", {"e": email})
    return data["createUser"]["id"]


async def update_task(base_url: str, task_id: str) -> None:
    await post(base_url, 'mutation($id: ID!) { updateTask(id: $id, input: {title: "audited"}) { id } }',
               {"id": task_id})


async def update_user(base_url: str, user_id: str) -> None:
    await post(base_url, 'mutation($id: ID!) { updateUser(id: $id, input: {name: "Audited"}) { id } }',
               {"id": user_id})


async def test_a_task_write_on_a_is_in_the_audit_log_on_b_at_once(two_instances) -> None:
    a, b = two_instances
    await audit_rows(b.base_url)  # B has answered (and may have cached) the audit log
    task = await create_task(a.base_url, title="audited")
    assert ("create", "task", task["id"]) in await audit_rows(b.base_url)


async def test_a_user_write_on_a_is_in_the_audit_log_on_b_at_once(two_instances) -> None:
    a, b = two_instances
    await audit_rows(b.base_url)
    user_id = await create_user(a.base_url)
    assert ("create", "user", user_id) in await audit_rows(b.base_url)


async def test_a_refused_email_change_on_a_is_in_the_audit_log_on_b_at_once(two_instances) -> None:
    # A write that changes nothing but the audit log: no cache stamp moves at all.
    a, b = two_instances
    member, other = await create_user(a.base_url), await create_user(a.base_url)
    taken = (await post(a.base_url, "query($id: ID!) { user(id: $id) { email } }", {"id": other}))["user"]["email"]
    await audit_rows(b.base_url)

    body = await over_http(a.base_url, "mutation($id: ID!, $e: String!) { updateUser(id: $id, input: {email: $e}) "
                           "{ id } }", {"id": member, "e": taken}, token_for(member))

    assert error_codes(body) == ["CONFLICT"]
    assert ("email_change_attempt", "user", member) in await audit_rows(b.base_url)


@pytest.mark.parametrize("entity", ["task", "user"])
async def test_a_read_on_b_while_the_audit_row_is_on_its_way_does_not_hide_it_afterwards(
    two_instances, entity: str
) -> None:
    a, b = two_instances
    if entity == "task":
        target = (await create_task(a.base_url, title="to audit"))["id"]
        write = update_task
    else:
        target = await create_user(a.base_url)
        write = update_user
    await audit_rows(b.base_url)

    # When A's write is held at its audit insert (a user write has announced its change by then)
    async with audit_inserts_held():
        writing = asyncio.create_task(write(a.base_url, target))
        await an_audit_insert_is_waiting()
        # and B answers the audit log meanwhile (without the row: it is not committed yet)
        assert ("update", entity, target) not in await audit_rows(b.base_url)
    await writing

    # Then, once the write is done, B's audit log has the row
    assert ("update", entity, target) in await audit_rows(b.base_url)
