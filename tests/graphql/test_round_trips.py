"""A page of N tasks with tags and assignees costs the same round trips for N = 10 and N = 100."""

from __future__ import annotations

import httpx
import pytest

from app import cache
from app.stores import sql
from app.stores.mongo_log import record_commands
from app.stores.query_log import record_statements
from tests.support.data import seed_board
from tests.support.graphql import gql

BOARD = """query($n: Int!, $withTotal: Boolean!) {
  tasks(first: $n, filter: {status: [TODO]}, sort: CREATED_AT_DESC) {
    totalCount @include(if: $withTotal)
    edges { cursor node { id title status priority dueDate tags { name color } assignee { id name } } }
  }
}"""


@pytest.fixture
async def board() -> None:
    await seed_board(tasks=120)


@pytest.fixture
def uncached(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read goes to the databases (what the round-trip shape is about)."""
    monkeypatch.setattr(cache.current(), "enabled", False)


async def measure(client: httpx.AsyncClient, n: int, with_total: bool) -> tuple[int, int, dict]:
    with record_statements() as statements, record_commands() as commands:
        body = await gql(client, BOARD, {"n": n, "withTotal": with_total})
    assert "errors" not in body, body
    return statements.count, commands.count, body


@pytest.mark.usefixtures("board", "uncached")
async def test_round_trips_do_not_grow_with_page_size(client: httpx.AsyncClient) -> None:
    sql10, mongo10, body10 = await measure(client, 10, True)
    sql100, mongo100, body100 = await measure(client, 100, True)

    assert len(body10["data"]["tasks"]["edges"]) == 10
    assert len(body100["data"]["tasks"]["edges"]) == 100
    assert body100["data"]["tasks"]["totalCount"] == 120
    node = body100["data"]["tasks"]["edges"][0]["node"]
    assert len(node["tags"]) == 2 and node["assignee"]["name"].startswith("P")

    # page + count + tags; users: one $in
    assert (sql10, mongo10) == (3, 1)
    assert (sql100, mongo100) == (3, 1)


@pytest.mark.usefixtures("board", "uncached")
async def test_count_runs_only_when_total_is_selected(client: httpx.AsyncClient) -> None:
    statements, _, body = await measure(client, 50, False)
    assert "totalCount" not in body["data"]["tasks"]
    assert statements == 2
    assert await sql.fetchval("SELECT count(*) FROM tasks") == 120


@pytest.mark.usefixtures("board")
async def test_a_repeated_board_is_served_from_the_cache_until_a_write(client: httpx.AsyncClient) -> None:
    first = await measure(client, 50, True)
    again = await measure(client, 50, True)
    assert again[2]["data"] == first[2]["data"]
    assert again[:2] == (0, 0)

    task_id = first[2]["data"]["tasks"]["edges"][0]["node"]["id"]
    await gql(client, "mutation($id: ID!) { updateTask(id: $id, input: {status: COMPLETED}) { id } }", {"id": task_id})
    after = await measure(client, 50, True)
    assert after[2]["data"]["tasks"]["totalCount"] == 119
    assert task_id not in [e["node"]["id"] for e in after[2]["data"]["tasks"]["edges"]]
    assert after[0] >= 2  # the page and the count were read again


FRAGMENTED = """query($n: Int!, $withTotal: Boolean!) {
  tasks(first: $n, filter: {status: [TODO]}) {
    ...Total @include(if: $withTotal)
    ... on TaskConnection { nodes { ...Row } }
  }
}
fragment Total on TaskConnection { totalCount }
fragment Row on Task { id ... { tags { name } } ...Person }
fragment Person on Task { assignee { id } }"""


@pytest.mark.usefixtures("board", "uncached")
async def test_selections_through_fragments_and_directives_decide_the_round_trips(client: httpx.AsyncClient) -> None:
    for with_total, expected in ((True, (3, 1)), (False, (2, 1))):
        with record_statements() as statements, record_commands() as commands:
            body = await gql(client, FRAGMENTED, {"n": 10, "withTotal": with_total})
        assert "errors" not in body, body
        assert ("totalCount" in body["data"]["tasks"]) is with_total
        node = body["data"]["tasks"]["nodes"][0]
        assert len(node["tags"]) == 2 and node["assignee"]["id"]
        assert (statements.count, commands.count) == expected


CREATE = """mutation($input: CreateTaskInput!) {
  createTask(input: $input) { id title tags { id name color } }
}"""


@pytest.mark.usefixtures("board", "uncached")
async def test_create_task_answers_its_tags_from_the_write(client: httpx.AsyncClient) -> None:
    """The tags the write looked up and linked are its answer: no statement reads them back afterwards."""
    tags = await sql.fetch("SELECT id::text, name, color FROM tags ORDER BY lower(name) DESC LIMIT 2")
    ids = [tags[0]["id"], tags[1]["id"], tags[0]["id"]]  # a repeated id links once
    with record_statements() as statements, record_commands() as commands:
        body = await gql(client, CREATE, {"input": {"title": "primed", "tagIds": ids}})
    assert "errors" not in body, body
    created = body["data"]["createTask"]
    # by name, as Task.tags always lists them
    assert created["tags"] == [dict(row) for row in reversed(tags)]
    # BEGIN, the tags, the task, its links, the audit row, COMMIT; nothing after the commit, no MongoDB
    assert statements.count == 6, statements.statements
    assert commands.count == 0
    stored = await sql.fetch(
        "SELECT t.name FROM task_tags l JOIN tags t ON t.id = l.tag_id WHERE l.task_id = $1::uuid ORDER BY 1",
        created["id"],
    )
    assert [row["name"] for row in stored] == sorted(row["name"] for row in tags)
