"""Execution plans: compiled once per operation node, cached in a bounded LRU, refused for what they do not run."""

from __future__ import annotations

import pytest
from graphql import parse
from graphql.execution.executor import Executor

from app.graphql.plans import FieldKind, PlanCache, compile_plan
from app.graphql.schema import schema
from app.graphql.shared_execution import SharedEventExecutor


def executor(text: str, variables: dict | None = None) -> Executor:
    built = SharedEventExecutor.build(schema._schema, parse(text), raw_variable_values=variables)
    assert isinstance(built, Executor), built
    return built


def test_the_board_compiles_to_attributes_direct_calls_and_one_resolver() -> None:
    plan = compile_plan(executor("{ tasks(first: 5) { totalCount nodes { id tags { name } assignee { id } } } }"))
    assert plan is not None
    (tasks,) = plan.fields
    assert (tasks.key, tasks.kind) == ("tasks", FieldKind.RESOLVER)
    total, nodes = tasks.output.fields  # type: ignore[union-attr]
    assert (total.kind, nodes.kind) == (FieldKind.ATTRIBUTE, FieldKind.ATTRIBUTE)
    kinds = {field.key: field.kind for field in nodes.output.item.fields}  # type: ignore[union-attr]
    assert kinds == {"id": FieldKind.ATTRIBUTE, "tags": FieldKind.METHOD, "assignee": FieldKind.METHOD}


@pytest.mark.parametrize(
    "text",
    [
        "query($t: Boolean!) { tasks { totalCount @include(if: $t) } }",
        "query($t: Boolean!) { tasks { ...F @skip(if: $t) } } fragment F on TaskConnection { totalCount }",
        "query { tasks { ... @include(if: true) { totalCount } } }",
        "query @experimental_disableErrorPropagation { apiVersion }",
        "{ __schema { queryType { name } } }",
        "mutation { deleteTag(id: \"x\") }",
    ],
    ids=["include", "skip-on-spread", "include-on-inline-fragment", "directive-on-operation", "introspection",
         "mutation"],
)
def test_operations_a_plan_does_not_run_get_none(text: str) -> None:
    assert compile_plan(executor(text, {"t": True})) is None


def test_the_cache_returns_the_same_plan_for_the_same_node_and_stays_bounded() -> None:
    cache = PlanCache(maxsize=2)
    board = executor("{ tasks { totalCount } }")
    first = cache.get(board)
    # Same operation node (what the parser cache hands out for the same text): the same plan object.
    assert cache.get(board.build_per_event_executor(None)) is first
    # Same text parsed again is another node: another plan.
    assert cache.get(executor("{ tasks { totalCount } }")) is not first
    cache.get(executor("{ apiVersion }"))
    assert len(cache) == 2
    # The board's entry was the least recently used: it was evicted and compiles anew.
    assert cache.get(board) is not first
