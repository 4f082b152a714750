"""The mixed workload's request shapes: what a board UI sends, for the app and for PostGraphile, and checks.

Ten read shapes (90 % of requests) and five write shapes (10 %). Every shape has an app body and a
PostGraphile body; where PostGraphile's Amber preset has no equivalent (users live in MongoDB; no text
search or tag-name filter without plugins; tag links are separate rows) a named stand-in runs instead:
STAND_INS says which, and RESULTS.md repeats it. Each shape's answer is checked against PostgreSQL (or
MongoDB) before anything is timed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (name, weight in %): the reads sum to 90, the writes to 10.
READS = (("board by status", 20), ("board by assignee", 10), ("tag filter", 8), ("search", 8),
         ("next page (cursor)", 8), ("task by id", 14), ("me", 6), ("users list", 6), ("user stats", 5),
         ("tags with counts", 5))
WRITES = (("createTask (2 tags)", 3), ("updateTask", 3), ("addTaskTags", 1.5), ("removeTaskTags", 1.5),
          ("deleteTask (soft)", 1))
# Write shapes that consume their target (a tag link added or removed, a task deleted): each item once.
ONCE = frozenset({"addTaskTags", "removeTaskTags", "deleteTask (soft)"})

STAND_INS = {
    "tag filter": "`tagByRowId { taskTagsByTagId(first: 50) { nodes { taskByTaskId {...} } } }` (no filter by tag "
                  "name across the link table in the Amber preset; link order, soft-deleted tasks not excluded)",
    "search": "`allTasks(first: 20, condition: {priority})` (no substring search in the Amber preset)",
    "me": "`allTags` (users live in MongoDB, which PostGraphile cannot reach)",
    "users list": "`allTags` (users live in MongoDB)",
    "user stats": "three `allTasks(condition: {assigneeId, status}) { totalCount }` aliases (same counts)",
    "tags with counts": "`allTags { nodes { ... taskTagsByTagId { totalCount } } }` (counts soft-deleted tasks' links too)",
    "createTask (2 tags)": "`createTask` of the task row alone (its two tag links would be two more mutations)",
    "addTaskTags": "`createTaskTag` (one link row)",
    "removeTaskTags": "`deleteTaskTagByTaskIdAndTagId` (one link row)",
    "deleteTask (soft)": "`updateTaskByRowId(taskPatch: {deletedAt})`",
    "updateTask": "`updateTaskByRowId(taskPatch: {priority})`",
}

TASK_FIELDS = "id title status priority dueDate assigneeId tags { name color }"
PG_TASK_FIELDS = "rowId title status priority dueDate assigneeId taskTagsByTaskId { nodes { tagByTagId { name color } } }"
PG_ORDER = "orderBy: [CREATED_AT_DESC, ROW_ID_DESC]"
PRIORITY_NUMBER = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}


def gql(query: str, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "operationName": name}
    if variables:
        body["variables"] = variables
    return body


# ---------------------------------------------------------------- app bodies

def app_board(status: str, after: str | None = None) -> dict[str, Any]:
    return gql(f"""query Board($status: TaskStatus!, $after: String) {{
  tasks(first: 50, after: $after, filter: {{status: [$status]}}, sort: CREATED_AT_DESC) {{
    totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {TASK_FIELDS} }}
  }}
}}""", "Board", {"status": status, "after": after})


def app_by_assignee(user_id: str) -> dict[str, Any]:
    return gql(f"""query MyTasks($who: ID!) {{
  tasks(first: 50, filter: {{assigneeIds: [$who]}}, sort: CREATED_AT_DESC) {{ totalCount nodes {{ {TASK_FIELDS} }} }}
}}""", "MyTasks", {"who": user_id})


def app_tag_filter(tag: str) -> dict[str, Any]:
    return gql(f"""query Tagged($tag: String!) {{
  tasks(first: 50, filter: {{tagsAny: [$tag]}}, sort: CREATED_AT_DESC) {{ totalCount nodes {{ {TASK_FIELDS} }} }}
}}""", "Tagged", {"tag": tag})


def app_search(word: str) -> dict[str, Any]:
    return gql(f"""query Search($q: String!) {{
  tasks(first: 20, filter: {{search: $q}}, sort: CREATED_AT_DESC) {{ nodes {{ {TASK_FIELDS} }} }}
}}""", "Search", {"q": word})


def app_task(task_id: str) -> dict[str, Any]:
    return gql(f"query Task($id: ID!) {{ task(id: $id) {{ {TASK_FIELDS} description creatorId }} }}", "Task",
               {"id": task_id})


APP_ME = gql("query Me { me { id name email avatar profile { bio timezone } } }", "Me")
APP_USERS = gql("query Users { users(first: 50, sort: NAME_ASC) { nodes { id name avatar } } }", "Users")
APP_TAGS = gql("query Tags { tags { tag { id name color } taskCount } }", "Tags")


def app_stats(user_id: str) -> dict[str, Any]:
    return gql("query Stats($who: [ID!]) { userStats(userIds: $who) { userId taskCount completedCount "
               "inProgressCount } }", "Stats", {"who": [user_id]})


def app_create(tag_ids: list[str]) -> dict[str, Any]:
    return gql("mutation Create($input: CreateTaskInput!) { createTask(input: $input) { id title tags { name } } }",
               "Create", {"input": {"title": "bench-mixed __SEQ__", "tagIds": tag_ids}})


def app_update(task_id: str, priority: str) -> dict[str, Any]:
    return gql("mutation Update($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) "
               "{ id priority } }", "Update", {"id": task_id, "input": {"priority": priority}})


def app_add_tag(task_id: str, tag_id: str) -> dict[str, Any]:
    return gql("mutation AddTags($id: ID!, $tags: [ID!]!) { addTaskTags(taskId: $id, tagIds: $tags) "
               "{ id tags { id } } }", "AddTags", {"id": task_id, "tags": [tag_id]})


def app_remove_tag(task_id: str, tag_id: str) -> dict[str, Any]:
    return gql("mutation RemoveTags($id: ID!, $tags: [ID!]!) { removeTaskTags(taskId: $id, tagIds: $tags) "
               "{ id tags { id } } }", "RemoveTags", {"id": task_id, "tags": [tag_id]})


def app_delete(task_id: str) -> dict[str, Any]:
    return gql("mutation Delete($id: ID!) { deleteTask(id: $id) { id } }", "Delete", {"id": task_id})


# ---------------------------------------------------------------- PostGraphile bodies

def pg_board(status: str, after: str | None = None) -> dict[str, Any]:
    return gql(f"""query Board($status: String!, $after: Cursor) {{
  allTasks(first: 50, after: $after, condition: {{status: $status, deletedAt: null}}, {PG_ORDER}) {{
    totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {PG_TASK_FIELDS} }}
  }}
}}""", "Board", {"status": status, "after": after})


def pg_by_assignee(user_id: str) -> dict[str, Any]:
    return gql(f"""query MyTasks($who: String!) {{
  allTasks(first: 50, condition: {{assigneeId: $who, deletedAt: null}}, {PG_ORDER}) {{ totalCount nodes {{ {PG_TASK_FIELDS} }} }}
}}""", "MyTasks", {"who": user_id})


def pg_tag_filter(tag_id: str) -> dict[str, Any]:
    return gql(f"""query Tagged($tag: UUID!) {{
  tagByRowId(rowId: $tag) {{ taskTagsByTagId(first: 50) {{ totalCount nodes {{ taskByTaskId {{ {PG_TASK_FIELDS} }} }} }} }}
}}""", "Tagged", {"tag": tag_id})


def pg_search(priority: int) -> dict[str, Any]:
    return gql(f"""query Search($p: Int!) {{
  allTasks(first: 20, condition: {{priority: $p, deletedAt: null}}, {PG_ORDER}) {{ nodes {{ {PG_TASK_FIELDS} }} }}
}}""", "Search", {"p": priority})


def pg_task(task_id: str) -> dict[str, Any]:
    return gql(f"query Task($id: UUID!) {{ taskByRowId(rowId: $id) {{ {PG_TASK_FIELDS} description creatorId }} }}",
               "Task", {"id": task_id})


PG_TAGS_PLAIN = gql("query Tags { allTags { nodes { rowId name color } } }", "Tags")
PG_TAGS = gql("query TagCounts { allTags { nodes { rowId name color taskTagsByTagId { totalCount } } } }", "TagCounts")


def pg_stats(user_id: str) -> dict[str, Any]:
    def count(alias: str, status: str) -> str:
        extra = f", status: \"{status}\"" if status else ""
        return f"{alias}: allTasks(condition: {{assigneeId: $who, deletedAt: null{extra}}}) {{ totalCount }}"
    return gql("query Stats($who: String!) { " + " ".join(
        (count("all", ""), count("completed", "COMPLETED"), count("inProgress", "IN_PROGRESS"))) + " }",
        "Stats", {"who": user_id})


def pg_create(user_id: str) -> dict[str, Any]:
    return gql("mutation Create($input: CreateTaskInput!) { createTask(input: $input) { task { rowId title } } }",
               "Create", {"input": {"task": {"rowId": "__UUID__", "title": "bench-mixed __SEQ__", "creatorId": user_id}}})


def pg_update(task_id: str, priority: str) -> dict[str, Any]:
    return gql("mutation Update($id: UUID!, $p: Int!) { updateTaskByRowId(input: {rowId: $id, taskPatch: "
               "{priority: $p}}) { task { rowId priority } } }", "Update", {"id": task_id, "p": PRIORITY_NUMBER[priority]})


def pg_add_tag(task_id: str, tag_id: str) -> dict[str, Any]:
    return gql("mutation AddTag($t: UUID!, $g: UUID!) { createTaskTag(input: {taskTag: {taskId: $t, tagId: $g}}) "
               "{ taskTag { taskId tagId } } }", "AddTag", {"t": task_id, "g": tag_id})


def pg_remove_tag(task_id: str, tag_id: str) -> dict[str, Any]:
    return gql("mutation RemoveTag($t: UUID!, $g: UUID!) { deleteTaskTagByTaskIdAndTagId(input: {taskId: $t, "
               "tagId: $g}) { taskTag { taskId tagId } } }", "RemoveTag", {"t": task_id, "g": tag_id})


def pg_delete(task_id: str, when: str) -> dict[str, Any]:
    return gql("mutation Delete($id: UUID!, $at: Datetime!) { updateTaskByRowId(input: {rowId: $id, taskPatch: "
               "{deletedAt: $at}}) { task { rowId deletedAt } } }", "Delete", {"id": task_id, "at": when})


# ---------------------------------------------------------------- answers


def _data(response: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    if response.get("errors"):
        return None, f"errors: {str(response['errors'])[:300]}"
    if not isinstance(response.get("data"), dict):
        return None, "no data"
    return response["data"], None


def task_ids(nodes: list[dict[str, Any]]) -> list[str]:
    return [str(n.get("id") or n.get("rowId")) for n in nodes]


@dataclass(frozen=True)
class Shape:
    """One shape as one server kind sends it: a body per member index, and how to check an answer."""

    name: str
    weight: float
    body: Callable[[int], dict[str, Any]]
    check: Callable[[dict[str, Any]], str | None]


def expect(extract: Callable[[dict[str, Any]], Any], want: Any, what: str) -> Callable[[dict[str, Any]], str | None]:
    """A check: the answer's data must exist and extract(data) must equal want."""
    def check(response: dict[str, Any]) -> str | None:
        data, problem = _data(response)
        if problem:
            return problem
        try:
            got = extract(data)
        except (KeyError, TypeError, IndexError) as exc:
            return f"{what}: unexpected shape ({type(exc).__name__}: {exc}) in {str(data)[:200]}"
        return None if got == want else f"{what}: got {str(got)[:200]}, expected {str(want)[:200]}"
    return check
