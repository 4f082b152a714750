"""The floor: a bare ASGI endpoint (asyncpg + orjson) running the same SQL as the app for each workload.

It parses no GraphQL: it picks the work by the body's operationName (Board, Task, CreateTask) and answers
in the app's response shape, without the MongoDB assignee. What the app spends above this is the cost of
GraphQL, the ORM layer, loaders and the Mongo lookup.
Run: uvicorn floor.app:app --loop uvloop --http httptools (DATABASE_URL from the environment).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

COLUMNS = (
    "t.id, t.title, t.description, t.status, t.priority, t.due_date, t.assignee_id, t.created_at, t.updated_at, "
    "t.deleted_at"
)
PAGE_SQL = (
    f"SELECT {COLUMNS} FROM tasks t WHERE t.deleted_at IS NULL AND t.status = $1 "
    "ORDER BY t.created_at DESC, t.id DESC LIMIT $2"
)
COUNT_SQL = "SELECT count(*) FROM tasks t WHERE t.deleted_at IS NULL AND t.status = $1"
TAGS_SQL = (
    "SELECT tt.task_id, g.id, g.name, g.color FROM task_tags tt JOIN tags g ON g.id = tt.tag_id "
    "WHERE tt.task_id = ANY($1::uuid[]) ORDER BY lower(g.name), g.id"
)
BY_IDS_SQL = f"SELECT {COLUMNS} FROM tasks t WHERE t.id = ANY($1::uuid[])"
TAG_IDS_SQL = "SELECT id FROM tags WHERE id = ANY($1::uuid[])"
INSERT_SQL = (
    "INSERT INTO tasks AS t (id, title, description, status, priority, due_date, assignee_id) "
    f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
)
LINK_SQL = "INSERT INTO task_tags (task_id, tag_id) SELECT $1, unnest($2::uuid[])"
PRIORITY = {1: "LOW", 2: "MEDIUM", 3: "HIGH"}

Body = dict[str, Any]
Scope = dict[str, Any]
pool: asyncpg.Pool | None = None


def task_json(record: asyncpg.Record, tags: list[dict[str, str]]) -> Body:
    return {
        "id": str(record["id"]), "title": record["title"], "status": record["status"],
        "priority": PRIORITY[record["priority"]], "dueDate": record["due_date"], "tags": tags,
    }


async def tags_by_task(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, str]]]:
    assert pool is not None
    grouped: dict[uuid.UUID, list[dict[str, str]]] = {}
    for row in await pool.fetch(TAGS_SQL, ids):
        grouped.setdefault(row["task_id"], []).append({"name": row["name"], "color": row["color"]})
    return grouped


async def board(variables: Body) -> Body:
    assert pool is not None
    rows, total = await asyncio.gather(pool.fetch(PAGE_SQL, "TODO", 51), pool.fetchval(COUNT_SQL, "TODO"))
    rows = rows[:50]
    tags = await tags_by_task([r["id"] for r in rows])
    return {"tasks": {"totalCount": total, "nodes": [task_json(r, tags.get(r["id"], [])) for r in rows]}}


async def task(variables: Body) -> Body:
    assert pool is not None
    rows = await pool.fetch(BY_IDS_SQL, [uuid.UUID(variables["id"])])
    if not rows or rows[0]["deleted_at"] is not None:
        return {"task": None}
    tags = await tags_by_task([rows[0]["id"]])
    return {"task": task_json(rows[0], tags.get(rows[0]["id"], []))}


async def create_task(variables: Body) -> Body:
    assert pool is not None
    data = variables["input"]
    tag_ids = [uuid.UUID(t) for t in data.get("tagIds", [])]
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetch(TAG_IDS_SQL, tag_ids)
        if len(found) != len(tag_ids):
            raise ValueError("unknown tag")
        record = await conn.fetchrow(INSERT_SQL, uuid.uuid4(), data["title"].strip(), None, "TODO", 2, None, None)
        await conn.execute(LINK_SQL, record["id"], tag_ids)
    tags = await tags_by_task([record["id"]])
    return {"createTask": task_json(record, tags.get(record["id"], []))}


OPERATIONS: dict[str, Callable[[Body], Awaitable[Body]]] = {"Board": board, "Task": task, "CreateTask": create_task}


async def read_body(receive: Callable[[], Awaitable[Body]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def respond(send: Callable[[Body], Awaitable[None]], status: int, payload: Body) -> None:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _NoResetConnection(asyncpg.Connection):
    def get_reset_query(self) -> str:
        return ""


async def lifespan(receive: Callable[[], Awaitable[Body]], send: Callable[[Body], Awaitable[None]]) -> None:
    global pool
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # No reset query on release, as the app does (its connections keep no session state either).
            pool = await asyncpg.create_pool(
                os.environ["DATABASE_URL"], min_size=1, max_size=10, connection_class=_NoResetConnection
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if pool is not None:
                await pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Callable[[], Awaitable[Body]], send: Callable[[Body], Awaitable[None]]) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    request = orjson.loads(await read_body(receive))
    operation = OPERATIONS.get(request.get("operationName", ""))
    if operation is None:
        await respond(send, 400, {"errors": [{"message": "unknown operationName"}]})
        return
    await respond(send, 200, {"data": await operation(request.get("variables") or {})})
