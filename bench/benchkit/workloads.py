"""The HTTP workloads: one request body per server kind, and a check that the answer is right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchkit.database import BENCH_TITLE_PREFIX, Expectations, ExpectedTask

CREATE_PREFIX = BENCH_TITLE_PREFIX + "create "

APP_BOARD = """query Board {
  tasks(first: 50, filter: {status: [TODO]}, sort: CREATED_AT_DESC) {
    totalCount
    nodes { id title status priority dueDate tags { name color } assignee { id name } }
  }
}"""

# The same board without the MongoDB lookup: what the app does that PostGraphile and the floor also do.
APP_BOARD_NO_ASSIGNEE = APP_BOARD.replace(" assignee { id name }", " assigneeId")

# PostGraphile's equivalent: same rows, order and fields, minus the MongoDB assignee (it has only the id).
PG_BOARD = """query Board {
  allTasks(first: 50, condition: {status: "TODO", deletedAt: null}, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    totalCount
    nodes { rowId title status priority dueDate assigneeId taskTagsByTaskId { nodes { tagByTagId { name color } } } }
  }
}"""

APP_TASK = """query Task($id: ID!) {
  task(id: $id) { id title status priority dueDate tags { name color } assignee { id name } }
}"""

PG_TASK = """query Task($id: UUID!) {
  taskByRowId(rowId: $id) {
    rowId title status priority dueDate assigneeId taskTagsByTaskId { nodes { tagByTagId { name color } } }
  }
}"""

APP_CREATE = """mutation CreateTask($input: CreateTaskInput!) {
  createTask(input: $input) { id title status tags { name color } }
}"""


# A task as a server returned it: the same facts as an expected one (assignee None when not resolved).
Seen = ExpectedTask


def _sorted_tags(names: list[str]) -> tuple[str, ...]:
    return tuple(sorted(names, key=str.lower))


def _seen_app(node: dict[str, Any]) -> Seen:
    assignee = node.get("assignee")
    return Seen(
        id=node["id"], title=node["title"], status=node["status"],
        tag_names=_sorted_tags([t["name"] for t in node["tags"]]),
        assignee_id=assignee["id"] if assignee else None,
    )


def _seen_pg(node: dict[str, Any]) -> Seen:
    return Seen(
        id=node["rowId"], title=node["title"], status=node["status"],
        tag_names=_sorted_tags([n["tagByTagId"]["name"] for n in node["taskTagsByTaskId"]["nodes"]]),
        assignee_id=None,
    )


def _same(seen: Seen, expected: ExpectedTask, *, with_assignee: bool) -> str | None:
    """None when seen matches expected, else what differs."""
    want_tags = _sorted_tags(list(expected.tag_names))
    for name, got, want in (
        ("id", seen.id, expected.id), ("title", seen.title, expected.title),
        ("status", seen.status, expected.status), ("tags", seen.tag_names, want_tags),
    ):
        if got != want:
            return f"task {expected.id}: {name} is {got!r}, expected {want!r}"
    if with_assignee and seen.assignee_id != expected.assignee_id:
        return f"task {expected.id}: assignee {seen.assignee_id!r}, expected {expected.assignee_id!r}"
    return None


def _check_board(seen: list[Seen], total: int, exp: Expectations, *, with_assignee: bool) -> str | None:
    if total != exp.board_total:
        return f"totalCount {total}, expected {exp.board_total}"
    if len(seen) != len(exp.board):
        return f"{len(seen)} tasks, expected {len(exp.board)}"
    for got, want in zip(seen, exp.board, strict=True):
        if problem := _same(got, want, with_assignee=with_assignee):
            return problem
    return None


def _errors(response: dict[str, Any]) -> str | None:
    if response.get("errors"):
        return f"errors: {str(response['errors'])[:300]}"
    if not isinstance(response.get("data"), dict):
        return "no data"
    return None


def check_board_app(response: dict[str, Any], exp: Expectations, *, with_assignee: bool = True) -> str | None:
    if problem := _errors(response):
        return problem
    page = response["data"]["tasks"]
    seen = [_seen_app(node) for node in page["nodes"]]
    return _check_board(seen, page["totalCount"], exp, with_assignee=with_assignee)


def check_board_pg(response: dict[str, Any], exp: Expectations) -> str | None:
    if problem := _errors(response):
        return problem
    page = response["data"]["allTasks"]
    return _check_board([_seen_pg(n) for n in page["nodes"]], page["totalCount"], exp, with_assignee=False)


def check_task_app(response: dict[str, Any], exp: Expectations, *, with_assignee: bool = True) -> str | None:
    if problem := _errors(response):
        return problem
    node = response["data"]["task"]
    return "task is null" if node is None else _same(_seen_app(node), exp.single, with_assignee=with_assignee)


def check_task_pg(response: dict[str, Any], exp: Expectations) -> str | None:
    if problem := _errors(response):
        return problem
    node = response["data"]["taskByRowId"]
    return "task is null" if node is None else _same(_seen_pg(node), exp.single, with_assignee=False)


def check_create(response: dict[str, Any], exp: Expectations) -> str | None:
    if problem := _errors(response):
        return problem
    node = response["data"]["createTask"]
    if not node["title"].startswith(CREATE_PREFIX):
        return f"title {node['title']!r}"
    if _sorted_tags([t["name"] for t in node["tags"]]) != _sorted_tags(list(exp.tag_names)):
        return f"tags {node['tags']!r}, expected {exp.tag_names!r}"
    return None


Check = Callable[[dict[str, Any], Expectations], str | None]


@dataclass(frozen=True)
class Request:
    body: dict[str, Any]
    check: Check


def board(kind: str, *, with_assignee: bool = True) -> Request:
    if kind == "app" and not with_assignee:
        return Request(
            {"query": APP_BOARD_NO_ASSIGNEE, "operationName": "Board"},
            lambda response, exp: check_board_app(response, exp, with_assignee=False),
        )
    if kind == "postgraphile":
        return Request({"query": PG_BOARD, "operationName": "Board"}, check_board_pg)
    if kind == "floor":
        return Request(
            {"query": APP_BOARD, "operationName": "Board"},
            lambda response, exp: check_board_app(response, exp, with_assignee=False),
        )
    return Request({"query": APP_BOARD, "operationName": "Board"}, check_board_app)


def single_task(kind: str, exp: Expectations) -> Request:
    variables = {"id": exp.single.id}
    if kind == "postgraphile":
        return Request({"query": PG_TASK, "operationName": "Task", "variables": variables}, check_task_pg)
    if kind == "floor":
        return Request(
            {"query": APP_TASK, "operationName": "Task", "variables": variables},
            lambda response, exp: check_task_app(response, exp, with_assignee=False),
        )
    return Request({"query": APP_TASK, "operationName": "Task", "variables": variables}, check_task_app)


def create_task(kind: str, exp: Expectations) -> Request | None:
    """None for PostGraphile: its CRUD mutations cannot create a task and its tag links in one call."""
    if kind == "postgraphile":
        return None
    variables = {"input": {"title": CREATE_PREFIX + "__SEQ__", "tagIds": list(exp.tag_ids)}}
    return Request({"query": APP_CREATE, "operationName": "CreateTask", "variables": variables}, check_create)
