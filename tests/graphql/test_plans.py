"""Execution plans: compiled once per operation node, cached in a bounded LRU, refused for what they do not run."""

from __future__ import annotations

import pytest
from graphql import GraphQLEnumType, GraphQLScalarType, parse
from graphql.execution.executor import Executor

from app.graphql.plans import FieldKind, PlanCache, _leaf, compile_plan
from app.graphql.strawberry_adapter import core_schema
from app.schema import schema
from app.graphql.shared_execution import SharedEventExecutor


def executor(text: str, variables: dict | None = None) -> Executor:
    built = SharedEventExecutor.build(core_schema(schema), parse(text), raw_variable_values=variables)
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


def test_leaf_shortcuts_give_what_the_types_own_coercion_gives() -> None:
    checked = 0
    for graphql_type in core_schema(schema).type_map.values():
        if isinstance(graphql_type, GraphQLEnumType) and not graphql_type.name.startswith("__"):
            output = _leaf(graphql_type, non_null=True)
            assert output.enum_class is not None and output.enum_names is not None
            for member in output.enum_class:
                assert output.enum_names[member.value] == graphql_type.coerce_output_value(member)
                checked += 1
        elif isinstance(graphql_type, GraphQLScalarType):
            output = _leaf(graphql_type, non_null=True)
            samples = {str: "x", bool: True}
            if output.passthrough is not None:
                value = samples[output.passthrough]
                assert graphql_type.coerce_output_value(value) is value
                checked += 1
    assert {name for name in ("String", "ID", "Boolean")} <= {
        t.name for t in core_schema(schema).type_map.values()
        if isinstance(t, GraphQLScalarType) and _leaf(t, non_null=False).passthrough is not None
    }
    assert checked >= 10
