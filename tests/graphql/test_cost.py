"""Static query cost: fields cost 1, sized lists multiply their subtree, variables and fragments count."""

from __future__ import annotations

import pytest
from graphql import build_schema, parse

from app.graphql.cost import CostModel, QueryTooComplex, check_cost, operation_cost

SDL = """
type PageInfo { hasNextPage: Boolean! endCursor: String }
type Tag { id: ID! name: String! }
type User { id: ID! name: String tasks(first: Int! = 5): TaskConnection! }
type Task { id: ID! title: String! tags: [Tag!]! assignee: User }
type TaskEdge { cursor: String! node: Task! }
type TaskConnection { edges: [TaskEdge!]! nodes: [Task!]! pageInfo: PageInfo! totalCount: Int! }
type Query {
  task(id: ID!): Task
  tasks(first: Int, last: Int, page: Int, limit: Int): TaskConnection!
  tags: [Tag!]!
  version: String!
}
type Mutation { createTag(name: String!): Tag! }
"""
SCHEMA = build_schema(SDL)


def cost(query: str, variables: dict | None = None, **options: object) -> int:
    return operation_cost(SCHEMA, parse(query), variables=variables, **options)  # type: ignore[arg-type]


def test_each_field_costs_one() -> None:
    assert cost("{ version }") == 1
    assert cost("{ task(id: 1) { id title } }") == 3
    assert cost("{ task(id: 1) { __typename id } }") == 2


def test_page_size_multiplies_the_rows_but_not_page_info_or_total() -> None:
    # tasks 1 + totalCount 1 + pageInfo (1 + 1) + nodes (1 + 10 x (id + title))
    assert cost("{ tasks(first: 10) { totalCount pageInfo { hasNextPage } nodes { id title } } }") == 1 + 1 + 2 + 1 + 10 * 2


def test_edges_count_like_nodes() -> None:
    assert cost("{ tasks(first: 10) { edges { cursor node { id } } } }") == 1 + 1 + 10 * (1 + 1 + 1)


def test_absent_page_size_uses_the_default_list_size() -> None:
    assert cost("{ tasks { nodes { id } } }") == 1 + 1 + 20
    assert cost("{ tasks { nodes { id } } }", model=CostModel(default_list_size=7)) == 1 + 1 + 7


def test_offset_limit_and_last_are_page_sizes_too() -> None:
    assert cost("{ tasks(page: 3, limit: 4) { nodes { id } } }") == 1 + 1 + 4
    assert cost("{ tasks(last: 6) { nodes { id } } }") == 1 + 1 + 6


def test_unsized_lists_multiply_by_the_default() -> None:
    assert cost("{ tags { id name } }") == 1 + 20 * 2
    assert cost("{ task(id: 1) { tags { id } } }") == 1 + 1 + 20


def test_nested_lists_multiply() -> None:
    query = "{ tasks(first: 10) { nodes { assignee { tasks(first: 3) { nodes { tags { name } } } } } } }"
    inner = 1 + 1 + 3 * (1 + 20 * 1)  # User.tasks + nodes + 3 x (tags + 20 names)
    assert cost(query) == 1 + 1 + 10 * (1 + inner)


def test_schema_default_of_a_size_argument_applies() -> None:
    assert cost("{ task(id: 1) { assignee { tasks { nodes { id } } } } }") == 1 + 1 + 1 + 1 + 5


def test_variables_come_from_the_request_then_the_operation_default() -> None:
    query = "query($n: Int = 4) { tasks(first: $n) { nodes { id } } }"
    assert cost(query, {"n": 50}) == 1 + 1 + 50
    assert cost(query, {}) == 1 + 1 + 4
    assert cost("query($n: Int) { tasks(first: $n) { nodes { id } } }", {}) == 1 + 1 + 20


@pytest.mark.parametrize("value", ["ten", 2.5, True, None])
def test_a_variable_that_is_not_an_integer_counts_as_the_default(value: object) -> None:
    assert cost("query($n: Int) { tasks(first: $n) { nodes { id } } }", {"n": value}) == 1 + 1 + 20


def test_huge_sizes_are_capped_so_costs_stay_exact_json_numbers() -> None:
    deep = "query($n: Int) { tasks(first: $n) { nodes { assignee { tasks(first: $n) { nodes { tags { id } } } } } } }"
    assert cost(deep, {"n": 10**30}) == 2**53 - 1
    assert cost("query($n: Int) { tasks(first: $n) { nodes { id } } }", {"n": 10**12}) == 1 + 1 + (2**31 - 1)


def test_negative_sizes_count_as_zero() -> None:
    assert cost("{ tasks(first: -5) { totalCount nodes { id } } }") == 1 + 1 + 1


def test_fragments_are_expanded_and_cycles_end() -> None:
    expanded = cost("{ tasks(first: 10) { nodes { ...T } } } fragment T on Task { id title }")
    assert expanded == cost("{ tasks(first: 10) { nodes { id title } } }")
    cyclic = "{ task(id: 1) { ...A } } fragment A on Task { id assignee { ...B } } fragment B on User { id tasks { nodes { ...A } } }"
    assert cost(cyclic) > 0  # terminates (validation rejects the cycle before execution anyway)
    inline = cost("{ task(id: 1) { ... on Task { id title } } }")
    assert inline == 3


def test_skip_and_include_are_honoured() -> None:
    query = "query($big: Boolean!) { version tasks(first: 100) @include(if: $big) { nodes { id } } }"
    assert cost(query, {"big": False}) == 1
    assert cost(query, {"big": True}) == 1 + 1 + 1 + 100
    assert cost("{ version tags @skip(if: true) { id } }") == 1


def test_mutation_root_fields_cost_more() -> None:
    assert cost('mutation { createTag(name: "x") { id name } }') == 10 + 2
    assert cost('mutation { createTag(name: "x") { id } }', model=CostModel(mutation_cost=3)) == 4


def test_the_named_operation_is_the_one_priced() -> None:
    document = "query Small { version } query Big { tags { id } }"
    assert operation_cost(SCHEMA, parse(document), operation_name="Small") == 1
    assert operation_cost(SCHEMA, parse(document), operation_name="Big") == 21
    assert operation_cost(SCHEMA, parse(document), operation_name="Missing") == 0
    assert operation_cost(SCHEMA, parse(document)) == 0  # ambiguous: execution reports it


def test_introspection_roots_cost_one() -> None:
    assert cost("{ __schema { types { name fields { name args { name } } } } }") == 1


def test_unknown_fields_cost_one_and_are_left_to_validation() -> None:
    assert cost("{ nope { deeper } }") == 1


def test_over_the_maximum_is_query_too_complex() -> None:
    check_cost(100, 100)
    with pytest.raises(QueryTooComplex) as error:
        check_cost(101, 100)
    assert error.value.code == "QUERY_TOO_COMPLEX"
    assert error.value.extensions == {"cost": 101, "maxCost": 100}


def test_board_query_on_the_real_schema() -> None:
    from app.graphql.strawberry_adapter import core_schema
    from app.schema import schema

    board = """
    query Board($first: Int) {
      tasks(first: $first) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id title status priority dueDate tags { id name color } assignee { id name } } }
      }
    }"""
    # 1 + totalCount 1 + pageInfo 3 + edges (1 + 50 x (cursor 1 + node 1 + 5 scalars + tags 61 + assignee 3))
    assert operation_cost(core_schema(schema), parse(board), variables={"first": 50}) == 1 + 1 + 3 + 1 + 50 * 71
