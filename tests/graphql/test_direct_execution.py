"""Direct execution answers exactly like graphql-core: every query runs on two app instances, one with
GRAPHQL_DIRECT_EXECUTION on and one with it off, and the response bodies must be the same text (data,
errors, key order). The metric says which path answered."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app import cache
from app.auth.principal import SYSTEM, Role
from app.main import create_app
from app.settings import Settings
from app.stores.mongo_log import record_commands
from app.stores.query_log import record_statements
from app.tags import service as tags
from app.tasks import service as tasks
from app.tasks.models import Priority, TaskStatus
from app.tasks.service import TaskUpsert
from app.users import service as users
from tests.support.auth import admin_headers, bearer

BOARD = """query Board { tasks(first: 50, filter: {status: [TODO]}, sort: CREATED_AT_DESC) {
  totalCount nodes { id title status priority dueDate tags { name color } assignee { id name } } } }"""
TASK_FIELDS = ("id title description status priority dueDate assigneeId creatorId createdAt updatedAt deletedAt "
               "tags { id name color } "
               "assignee { id email name avatar createdAt updatedAt profile { bio timezone settings } }")
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


@dataclass
class World:
    ada: str
    bob: str
    bug: str
    tasks: list[str]
    deleted: str


@dataclass
class Clients:
    direct: httpx.AsyncClient
    classic: httpx.AsyncClient


@pytest.fixture
async def world() -> World:
    ada = await users.create_user(email="ada@example.com", name="Ada", avatar="https://example.com/ada.png",
                                  bio="counts things", timezone="Europe/London", settings={"theme": "dark"},
                                  actor=SYSTEM)
    bob = await users.create_user(email="bob@example.com", actor=SYSTEM)
    bug = await tags.create_tag(name="bug", color="#FF0000", actor=SYSTEM)
    ui = await tags.create_tag(name="ui", color="#00aa00", actor=SYSTEM)
    await tags.create_tag(name="idle", color="#0000ff", actor=SYSTEM)
    statuses = list(TaskStatus)
    result = await tasks.bulk_upsert_tasks(items=[
        TaskUpsert(
            title=f"task {i:02}", description="details" if i % 3 == 0 else None,
            status=statuses[i % len(statuses)], priority=list(Priority)[i % 3],
            due_date=datetime(2030, 1, 1 + i, 3, 4, 5, tzinfo=UTC) if i % 2 == 0 else None,
            assignee_id=[str(ada.id), str(bob.id), None][i % 3],
            tag_ids=[[bug.id, ui.id], [ui.id], []][i % 3],
        )
        for i in range(12)
    ], actor=SYSTEM)
    ids = [task.id for task in result.tasks]
    await tasks.soft_delete_task(task_id=ids[-1], actor=SYSTEM)
    return World(ada=str(ada.id), bob=str(bob.id), bug=bug.id, tasks=ids, deleted=ids[-1])


@pytest.fixture
async def clients(settings: Settings, stores: None, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Clients]:
    # No response or resolver cache: both instances must execute. No rate limit: its `remaining` differs
    # between two requests.
    monkeypatch.setattr(cache.current(), "enabled", False)
    apps = [
        create_app(settings.model_copy(update={"rate_limit_enabled": False, "graphql_direct_execution": direct}))
        for direct in (True, False)
    ]
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]), base_url="http://direct",
                          headers=admin_headers()) as direct,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[1]), base_url="http://classic",
                          headers=admin_headers()) as classic,
    ):
        yield Clients(direct, classic)


async def outcomes(client: httpx.AsyncClient) -> dict[str, int]:
    text = (await client.get("/metrics")).text
    found = re.findall(r'taskboard_graphql_direct_executions_total\{outcome="(\w+)"\} (\d+)', text)
    return {outcome: int(value) for outcome, value in found}


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


async def compare(
    clients: Clients, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Run the query on both instances, assert the same status and body text; the path the direct one took."""
    before = await outcomes(clients.direct)
    direct = await post(clients.direct, query, variables or {}, headers or {})
    classic = await post(clients.classic, query, variables or {}, headers or {})
    after = await outcomes(clients.direct)
    assert (direct.status_code, direct.text) == (classic.status_code, classic.text)
    taken = [name for name in ("direct", "fallback", "unsupported") if after.get(name, 0) != before.get(name, 0)]
    assert len(taken) == 1, (before, after)
    assert after[taken[0]] - before.get(taken[0], 0) == 1
    return taken[0], direct.json()


# (id, query, variables or a function of the world that builds them)
DIRECT_QUERIES: list[tuple[str, str, Any]] = [
    ("board", BOARD, None),
    ("board-no-assignee", BOARD.replace("assignee { id name }", "assigneeId"), None),
    ("every-task-field", f"{{ tasks(first: 20, includeDeleted: true) {{ nodes {{ {TASK_FIELDS} }} }} }}", None),
    ("edges-cursors-page-info",
     f"{{ tasks(first: 5) {{ totalCount edges {{ cursor node {{ id title }} }} {PAGE_INFO} }} }}", None),
    ("backwards", f"{{ tasks(last: 3, sort: TITLE_ASC) {{ edges {{ cursor node {{ title }} }} {PAGE_INFO} }} }}", None),
    ("aliases", "{ a: tasks(first: 2) { n: nodes { x: id y: title } } b: tasks(first: 3, sort: CREATED_AT_ASC) "
                "{ total: totalCount nodes { title t: tags { c: color } } } }", None),
    ("same-field-different-args", "{ hi: tasks(filter: {priority: [HIGH]}) { totalCount } "
                                  "lo: tasks(filter: {priority: [LOW]}) { totalCount nodes { priority } } }", None),
    ("merged-selections", "{ tasks(first: 3) { nodes { id tags { name } } nodes { title tags { color } } "
                          "nodes { id } } }", None),
    ("fragments", "query { tasks(first: 4) { ...Page } } fragment Page on TaskConnection { totalCount "
                  "nodes { ...T } } fragment T on Task { id title tags { ...Tg } assignee { ...U } } "
                  "fragment Tg on Tag { name } fragment U on User { name }", None),
    ("inline-fragments",
     "{ tasks(first: 3) { nodes { ... on Task { id } ... { title tags { ... on Tag { name } } } } } }", None),
    ("variables", "query($n: Int!, $f: TaskFilter, $s: TaskSort!) { tasks(first: $n, filter: $f, sort: $s) "
                  "{ totalCount nodes { id priority status } } }",
     {"n": 4, "f": {"status": ["TODO", "COMPLETED"], "tagsAny": ["ui"]}, "s": "PRIORITY_DESC"}),
    ("variable-defaults", "query($n: Int = 2, $s: TaskSort! = DUE_DATE_ASC) { tasks(first: $n, sort: $s) "
                          "{ nodes { dueDate } } }", None),
    ("nulls", "{ tasks(first: 20, filter: {unassigned: true}) { nodes { assignee { id } assigneeId dueDate "
              "description creatorId deletedAt } } }", None),
    ("empty-page", f"{{ tasks(first: 5, filter: {{search: \"no such task\"}}) {{ totalCount nodes {{ id }} "
                   f"edges {{ cursor }} {PAGE_INFO} }} }}", None),
    ("empty-tags", "{ tasks(first: 12, sort: TITLE_ASC) { nodes { title tags { name } } } }", None),
    ("offset-page", f"{{ tasks(page: 2, limit: 4, sort: TITLE_DESC) {{ totalCount {PAGE_INFO} nodes {{ title }} }} }}",
     None),
    ("offset-page-past-the-end",
     f"{{ tasks(page: 9, limit: 5) {{ totalCount {PAGE_INFO} nodes {{ title }} }} }}", None),
    ("task-found", f"query($id: ID!) {{ task(id: $id) {{ {TASK_FIELDS} }} }}", lambda w: {"id": w.tasks[0]}),
    ("task-not-found", "query($id: ID!) { task(id: $id) { id title } }",
     {"id": "00000000-0000-7000-8000-000000000000"}),
    ("task-deleted", "query($id: ID!, $all: Boolean!) { hidden: task(id: $id) { id } "
                     "shown: task(id: $id, includeDeleted: $all) { id deletedAt } }",
     lambda w: {"id": w.deleted, "all": True}),
    ("typename", "{ __typename tasks(first: 2) { __typename nodes { __typename id tags { __typename name } "
                 "assignee { __typename } } pageInfo { __typename } } }", None),
    ("tags", "{ tags { __typename taskCount tag { id name color } } }", None),
    ("tag-by-id", "query($id: ID!, $none: ID!) { tag(id: $id) { id name color } none: tag(id: $none) { id } }",
     lambda w: {"id": w.bug, "none": "00000000-0000-7000-8000-000000000000"}),
    ("users", f"{{ users(first: 10, sort: NAME_ASC) {{ totalCount {PAGE_INFO} edges {{ cursor node {{ id email name "
              f"avatar createdAt updatedAt profile {{ bio timezone settings }} }} }} }} }}", None),
    ("user-with-tasks", "query($id: ID!) { user(id: $id) { name tasks(first: 2) { totalCount nodes { title "
                        "assignee { name } } } more: tasks { nodes { id } } } }", lambda w: {"id": w.ada}),
    ("users-and-their-tasks", "{ users(first: 3) { nodes { name tasks(first: 3) { nodes { title tags { name } "
                              "assignee { email } } } } } }", None),
    ("me-and-by-email", "{ me { id } userByEmail(email: \"ADA@example.com\") { id name } "
                        "nobody: userByEmail(email: \"nobody@example.com\") { id } }", None),
    ("user-stats", "{ userStats { userId taskCount completedCount inProgressCount user { name } } }", None),
    ("users-with-tasks-between",
     "query($s: DateTime!, $e: DateTime!) { usersWithTasksCreatedBetween(start: $s, end: $e) { id name } }",
     {"s": "2000-01-01T00:00:00Z", "e": "2100-01-01T00:00:00Z"}),
    ("audit-log", "{ auditLog(first: 3) { totalCount nodes { id actorId action entity entityId changes } "
                  "edges { cursor } } }", None),
    ("several-roots", "{ apiVersion tags { tag { name } } tasks(first: 1) { totalCount } }", None),
]


def resolve_variables(variables: Any, world: World) -> dict[str, Any] | None:
    return variables(world) if callable(variables) else variables


@pytest.mark.parametrize(("query", "variables"), [(q, v) for _, q, v in DIRECT_QUERIES],
                         ids=[name for name, _, _ in DIRECT_QUERIES])
async def test_the_direct_path_answers_like_graphql_core(
    clients: Clients, world: World, query: str, variables: Any
) -> None:
    # Given real data, when the query runs with and without direct execution
    taken, body = await compare(clients, query, resolve_variables(variables, world))

    # then the bodies are identical (compare() asserts it) and the plan answered
    assert taken == "direct"
    assert "errors" not in body and body["data"]


async def test_a_member_sees_the_same_shaped_answers(clients: Clients, world: World) -> None:
    # Given a member who is Ada (emails are visible to her and admins only)
    member = bearer(world.ada, Role.MEMBER)

    # When she reads users and her tasks, then both paths agree, the plan answered, and only her email shows
    taken, body = await compare(clients, "{ users { nodes { id email } } me { email tasks { totalCount } } }",
                                headers=member)
    assert taken == "direct"
    emails = {node["id"]: node["email"] for node in body["data"]["users"]["nodes"]}
    assert emails[world.ada] == "ada@example.com" and emails[world.bob] is None


FALLBACKS: list[tuple[str, str, dict[str, Any], str]] = [
    ("invalid-cursor", "{ tasks(first: 2, after: \"nope\") { nodes { id } } }", {}, "fallback"),
    ("negative-first", "{ tasks(first: -1) { nodes { id } } }", {}, "fallback"),
    ("mixed-pagination", "{ apiVersion tasks(first: 1, page: 2) { totalCount } }", {}, "fallback"),
    ("error-in-a-nullable-root", "{ apiVersion tag(id: \"x\") { id } tasks(first: 2) { totalCount } "
                                 "broken: users(first: 2, after: \"zzz\") { totalCount } }", {}, "fallback"),
    ("include", "query($t: Boolean!) { tasks(first: 2) { totalCount @include(if: $t) nodes { id } } }",
     {"t": False}, "unsupported"),
    ("skip-on-fragment", "query($t: Boolean!) { tasks(first: 2) { ...N @skip(if: $t) } } "
                         "fragment N on TaskConnection { nodes { id } }", {"t": True}, "unsupported"),
    ("introspection", "{ __type(name: \"Task\") { name } }", {}, "unsupported"),
]


@pytest.mark.parametrize(("query", "variables", "expected"), [(q, v, e) for _, q, v, e in FALLBACKS],
                         ids=[name for name, *_ in FALLBACKS])
async def test_errors_and_unsupported_operations_are_graphql_cores(
    clients: Clients, world: World, query: str, variables: dict[str, Any], expected: str
) -> None:
    # When a query fails in a resolver, or uses what a plan does not run, then graphql-core answered it
    taken, body = await compare(clients, query, variables)
    assert taken == expected
    if expected == "fallback":
        assert body["errors"]


async def test_a_permission_error_as_a_member_falls_back(clients: Clients, world: World) -> None:
    member = bearer(world.ada, Role.MEMBER)
    taken, body = await compare(clients, "{ tasks(includeDeleted: true) { totalCount } }", headers=member)
    assert taken == "fallback"
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


async def test_mutations_keep_graphql_cores_execution(clients: Clients, world: World) -> None:
    before = await outcomes(clients.direct)
    response = await post(clients.direct, "mutation { createTag(name: \"new\", color: \"#123456\") { name } }", {}, {})
    assert response.json()["data"] == {"createTag": {"name": "new"}}
    assert await outcomes(clients.direct) == before


async def test_the_board_takes_the_direct_path_with_constant_round_trips(clients: Clients, world: World) -> None:
    # Given 120 more tasks with tags and assignees
    await tasks.bulk_upsert_tasks(items=[
        TaskUpsert(title=f"board {i}", assignee_id=[world.ada, world.bob][i % 2], tag_ids=[world.bug])
        for i in range(120)
    ], actor=SYSTEM)
    for size in (10, 100):
        before = await outcomes(clients.direct)
        # When the board is read
        with record_statements() as statements, record_commands() as commands:
            response = await post(clients.direct, BOARD.replace("first: 50", f"first: {size}"), {}, {})
        # then the plan answered it, with the page, the count, the tags and one users $in
        body = response.json()
        assert "errors" not in body and len(body["data"]["tasks"]["nodes"]) == size
        assert (await outcomes(clients.direct))["direct"] == before.get("direct", 0) + 1
        assert (statements.count, commands.count) == (3, 1)


TASK_LEAVES = ["id", "title", "description", "status", "priority", "dueDate", "assigneeId", "creatorId",
               "createdAt", "updatedAt", "deletedAt"]
NESTED = {"tags": ["id", "name", "color", "__typename"], "assignee": ["id", "name", "email", "avatar", "createdAt",
                                                                       "profile { timezone settings }"]}


@st.composite
def task_selections(draw: st.DrawFn) -> str:
    """A random selection of Task fields, some under aliases (unique ones), some repeated (merged)."""
    names = draw(st.lists(st.sampled_from([*TASK_LEAVES, *NESTED, "__typename"]), min_size=1, max_size=10))
    parts = []
    for index, name in enumerate(names):
        alias = f"k{index}: " if draw(st.booleans()) else ""
        if name in NESTED:
            inner = draw(st.lists(st.sampled_from(NESTED[name]), min_size=1, max_size=4, unique=True))
            parts.append(f"{alias}{name} {{ {' '.join(inner)} }}")
        else:
            parts.append(f"{alias}{name}")
    return " ".join(parts)


async def test_random_task_selections_answer_alike(clients: Clients, world: World) -> None:
    loop = asyncio.get_running_loop()

    def run_on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    @hypothesis_settings(max_examples=40, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
    @given(task_selections(), st.sampled_from(["nodes", "edges { cursor node"]))
    def example(selection: str, container: str) -> None:
        closing = " }" if container.startswith("edges") else ""
        query = f"{{ tasks(first: 6, includeDeleted: true) {{ {container} {{ {selection} }}{closing} }} }}"
        taken, _ = run_on_loop(compare(clients, query))
        assert taken == "direct", query

    await asyncio.to_thread(example)
