"""One linear walk serves every pass over a document: a chain of fragments that each spread the next one
twice (2^levels expansions) costs visits linear in the document's size, in every pass and through the
app, and the figures counted through fragments stay exact."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from graphql import (
    DocumentNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    ParallelVisitor,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    specified_rules,
    visit,
)
from graphql.validation import ASTValidationRule, OverlappingFieldsCanBeMergedRule, ValidationContext

from app.graphql.cost import COST_MAX, operation_cost
from app.graphql.input_guard import literal_walk
from app.graphql.access import root_field_names
from app.graphql.document_walk import FIGURE_MAX, DocumentWalk, PerDocument, fragments_of
from app.graphql.limits import depth_and_aliases, limits_walk
from app.graphql.plans import check_selections
from app.graphql.strawberry_adapter import core_schema
from app.schema import schema
from tests.graphql.test_plans import executor
from tests.support.graphql import codes, gql

LEVELS = 40


def chain(levels: int, leaf: str, *, on: str = "Query", root: str = "query { ...F0 }", name: str = "F") -> str:
    """F0 spreads F1 twice, F1 spreads F2 twice, ...: the leaf is reached 2^levels times."""
    fragments = [f"fragment {name}{i} on {on} {{ ...{name}{i + 1} ...{name}{i + 1} }}" for i in range(levels)]
    return " ".join([root, *fragments, f"fragment {name}{levels} on {on} {{ {leaf} }}"])


def selections(document: DocumentNode) -> int:
    """Fields, spreads and inline fragments written in the document (its size, as a walk sees it)."""
    count, stack = 0, [d.selection_set for d in document.definitions]
    while stack:
        for selection in stack.pop().selections:
            count += 1
            if not isinstance(selection, FragmentSpreadNode) and selection.selection_set is not None:
                stack.append(selection.selection_set)
    return count


def inlined(document: DocumentNode) -> DocumentNode:
    """The document with every spread replaced by its fragment's selections (expanded, exponentially)."""
    fragments = fragments_of(document.definitions)

    def expand(selection_set: SelectionSetNode | None) -> SelectionSetNode | None:
        if selection_set is None:
            return None
        out = []
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                out.append(InlineFragmentNode(
                    type_condition=fragment.type_condition, directives=selection.directives,
                    selection_set=expand(fragment.selection_set),
                ))
            else:
                out.append(replace(selection, selection_set=expand(selection.selection_set)))
        return SelectionSetNode(selections=tuple(out))

    return DocumentNode(definitions=tuple(
        replace(d, selection_set=expand(d.selection_set))
        for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ))


def operation(document: DocumentNode) -> OperationDefinitionNode:
    (found,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return found


# Each pass over a 40-level chain: the figure it computes and the visits it took.


def test_depth_and_aliases_of_a_doubling_chain_are_exact_in_linear_visits() -> None:
    document = parse(chain(LEVELS, "a: __typename b: apiVersion"))
    walk = limits_walk(fragments_of(document.definitions))
    assert depth_and_aliases(walk, operation(document)) == (1, 2 * 2**LEVELS)
    assert walk.visits == selections(document)  # each fragment once: 1 + 2 x 40 + 2


def test_aliases_saturate_instead_of_growing_without_bound() -> None:
    document = parse(chain(60, "a: __typename"))
    walk = limits_walk(fragments_of(document.definitions))
    assert depth_and_aliases(walk, operation(document)) == (1, FIGURE_MAX)
    assert walk.visits == selections(document)


def test_depth_through_a_chain_adds_each_fragments_own_depth_once_per_level() -> None:
    # Each fragment goes one level deeper (task -> assignee -> tasks -> nodes ...) and spreads the next twice.
    levels = 12
    fragments = [
        f"fragment F{i} on Task {{ assignee {{ tasks {{ nodes {{ ...F{i + 1} ...F{i + 1} }} }} }} }}"
        for i in range(levels)
    ]
    document = parse(" ".join(["{ task(id: 1) { ...F0 } }", *fragments, f"fragment F{levels} on Task {{ id }}"]))
    walk = limits_walk(fragments_of(document.definitions))
    assert depth_and_aliases(walk, operation(document)) == (1 + 3 * levels + 1, 0)
    assert walk.visits == selections(document)


Visits = Callable[[], int]


@pytest.fixture
def visits(monkeypatch: pytest.MonkeyPatch) -> Visits:
    """Selections visited so far by every DocumentWalk, including the ones a pass builds inside itself."""
    total = [0]
    walk = DocumentWalk.walk

    def counted(self: DocumentWalk, selection_set: Any, context: Any) -> Any:
        before = self.visits
        figure = walk(self, selection_set, context)
        total[0] += self.visits - before
        return figure

    monkeypatch.setattr(DocumentWalk, "walk", counted)
    return lambda: total[0]


def cost_and_visits(visits: Visits, document: DocumentNode, variables: dict | None = None) -> tuple[int, int]:
    before = visits()
    cost = operation_cost(core_schema(schema), document, variables=variables)
    return cost, visits() - before


def test_cost_of_a_doubling_chain_is_exact_in_linear_visits(visits: Visits) -> None:
    document = parse(chain(LEVELS, "apiVersion"))
    assert cost_and_visits(visits, document) == (2**LEVELS, selections(document))
    saturating = parse(chain(60, "tasks(first: 100) { nodes { id } }"))
    assert cost_and_visits(visits, saturating) == (COST_MAX, selections(saturating))


def test_cost_inside_a_connection_prices_each_fragment_once_whatever_the_page_size(visits: Visits) -> None:
    # The same fragment spread under three page sizes: priced once, applied with each size.
    text = chain(LEVELS, "nodes { id }", on="TaskConnection",
                 root="{ a: tasks(first: 3) { ...F0 } b: tasks(first: 7) { ...F0 } c: tasks { ...F0 } }")
    document = parse(text)
    # Each tasks field 1; under it, 2^40 times nodes (1) with its page of ids (3, 7, the default 20).
    cost = 3 + ((1 + 3) + (1 + 7) + (1 + 20)) * 2**LEVELS
    assert cost_and_visits(visits, document) == (cost, selections(document))


def test_the_storable_text_guard_walks_each_fragment_once() -> None:
    document = parse(chain(LEVELS, 'task(id: "a\\u0000b") { id }'))
    paths, walk = literal_walk(document)
    assert paths == ["id"]
    assert walk.visits == selections(document)


def test_access_control_finds_root_fields_through_a_chain_in_linear_visits(visits: Visits) -> None:
    document = parse(chain(LEVELS, "apiVersion tasks { totalCount }"))
    before = visits()
    assert root_field_names(document, None) == {"apiVersion", "tasks"}
    # Root fields only: the chain's spreads and the two leaves, not what is inside `tasks`.
    assert visits() - before == selections(document) - 1
    before = visits()
    assert root_field_names(document, None) == {"apiVersion", "tasks"}
    assert visits() == before  # the same document again: remembered, not walked


def test_plan_checks_walk_each_fragment_once() -> None:
    built = executor(chain(LEVELS, "apiVersion"))
    walk = check_selections(built)
    assert walk.visits == selections(parse(chain(LEVELS, "apiVersion")))


# Figures through fragments spread several times: the same as with every spread expanded in place.

NORMAL = [
    "query { ...A ...A t: task(id: 1) { ...T } } "
    "fragment A on Query { v: apiVersion tasks(first: 3) { nodes { ...T } edges { node { ...T } } } } "
    "fragment T on Task { id a: title tags { id } assignee { tasks { nodes { id b: title } } } }",
    "query($n: Int = 7) { a: tasks(first: $n) { ...C } b: tasks(last: 9) { ...C } "
    "u: task(id: 1) { assignee { tasks { ...C } } } tags { tag { ...G } } } "
    "fragment C on TaskConnection { totalCount nodes { ...T } edges { ...E } } "
    "fragment E on TaskEdge { cursor node { ...T } } fragment T on Task { id tags { ...G } } "
    "fragment G on Tag { id n: name }",
    "query($skip: Boolean = true) { ...Q @skip(if: $skip) ...Q ... on Query { ...Q } } "
    "fragment Q on Query { x: apiVersion tasks { nodes { ... on Task { id y: title } } } }",
    'mutation { ...M } fragment M on Mutation { createTag(name: "x", color: "#000000") { ...G } '
    'b: createTag(name: "y", color: "#000000") { ...G } } fragment G on Tag { id n: name }',
]


def test_depth_aliases_and_cost_through_repeated_fragments_equal_the_expanded_documents() -> None:
    schema_ = core_schema(schema)
    for text in NORMAL:
        document, expanded = parse(text), inlined(parse(text))
        walk = limits_walk(fragments_of(document.definitions))
        figure = depth_and_aliases(walk, operation(document))
        assert figure == depth_and_aliases(limits_walk({}), operation(expanded)), text
        assert figure[1] > 0
        for variables in ({}, {"n": 2, "skip": False}):
            cost = operation_cost(schema_, document, variables=variables)
            assert cost == operation_cost(schema_, expanded, variables=variables), text


def test_a_fragment_spread_three_times_counts_its_aliases_three_times() -> None:
    document = parse("query { ...F ...F ... on Query { ...F } } fragment F on Query { a: apiVersion b: apiVersion }")
    walk = limits_walk(fragments_of(document.definitions))
    assert depth_and_aliases(walk, operation(document)) == (1, 6)


# Unvalidated documents: cycles and chains longer than Python's recursion limit end.


def test_cycles_and_very_long_chains_end() -> None:
    cyclic = parse("query { ...A } fragment A on Query { a: apiVersion ...B ...A } fragment B on Query { ...A b: x }")
    assert depth_and_aliases(limits_walk(fragments_of(cyclic.definitions)), operation(cyclic)) == (1, 2)
    long = parse(
        "query { ...F0 } "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(3000))
        + " fragment F3000 on Query { x: apiVersion }"
    )
    walk = limits_walk(fragments_of(long.definitions))
    assert depth_and_aliases(walk, operation(long)) == (1, 1)
    assert walk.visits == 3002


def test_per_document_figures_are_computed_once_and_go_with_their_document() -> None:
    calls: list[str | None] = []

    def names(document: DocumentNode, key: str | None) -> int:
        calls.append(key)
        return len(document.definitions)

    memo: PerDocument[str | None, int] = PerDocument(names)
    document = parse("{ a } fragment F on Query { b }")
    assert (memo(document, None), memo(document, None), memo(document, "x")) == (2, 2, 2)
    assert calls == [None, "x"]
    assert memo(parse("{ a } fragment F on Query { b }"), None) == 2  # another node, same text
    assert calls == [None, "x", None]
    del document
    gc.collect()
    assert len(memo) == 0


# Through the app, anonymously: answered at once, with every pass linear.


async def post_counting(client: httpx.AsyncClient, visits: Visits, text: str) -> tuple[dict, int]:
    before = visits()
    body = await gql(client, text)
    return body, visits() - before


async def test_anonymous_doubling_chain_is_answered_with_linear_work(client: httpx.AsyncClient, visits: Visits) -> None:
    client.headers.pop("Authorization")
    text = chain(LEVELS, "__typename")
    body, visited = await post_counting(client, visits, text)
    assert body["data"] == {"__typename": "Query"} and "errors" not in body
    # limits, storable text, root fields, cost, plan checks: each at most once per written selection.
    assert visited <= 5 * selections(parse(text))


async def test_anonymous_doubling_chains_get_their_exact_coded_errors(client: httpx.AsyncClient, visits: Visits) -> None:
    client.headers.pop("Authorization")
    aliased, visited = await post_counting(client, visits, chain(LEVELS, "a: __typename"))
    assert codes(aliased) == ["TOO_MANY_ALIASES"] and aliased["_status"] == 400
    assert aliased["errors"][0]["extensions"]["aliases"] == 2**LEVELS
    assert visited <= selections(parse(chain(LEVELS, "a: __typename")))
    costly, visited = await post_counting(client, visits, chain(LEVELS, "apiVersion"))
    assert codes(costly) == ["QUERY_TOO_COMPLEX"]
    assert costly["errors"][0]["extensions"]["cost"] == 2**LEVELS
    assert visited <= 5 * selections(parse(chain(LEVELS, "apiVersion")))


async def test_a_chain_inside_a_connection_resolves_with_linear_selection_checks(
    client: httpx.AsyncClient, visits: Visits
) -> None:
    # The tasks resolver asks whether totalCount and the rows' tags/assignee are selected: through
    # strawberry's info.selected_fields that expanded every spread.
    root = "{ tasks { ...F0 nodes { ...R0 } edges { node { ...R0 } } } }"
    text = chain(LEVELS, "__typename", on="TaskConnection", root=root)
    text += " " + chain(LEVELS, "__typename", on="Task", root="", name="R")
    body, visited = await post_counting(client, visits, text)
    assert "errors" not in body, body
    assert body["data"] == {"tasks": {"__typename": "TaskConnection", "nodes": [], "edges": []}}
    assert visited <= 12 * selections(parse(text))


async def test_depth_and_aliases_through_repeated_fragments_are_exact_in_the_app(client: httpx.AsyncClient) -> None:
    ten = "fragment F on Query { " + " ".join(f"a{i}: apiVersion" for i in range(10)) + " }"
    assert "errors" not in await gql(client, "query { ...F ...F ...F } " + ten)  # 30 aliases: the limit
    over = await gql(client, "query { ...F ...F ...F x: apiVersion } " + ten)
    assert codes(over) == ["TOO_MANY_ALIASES"] and over["errors"][0]["extensions"]["aliases"] == 31
    # A fragment three levels deep, spread at depth 2 and at depth 8: the deepest spread decides (8 + 3 = 11).
    deep = (
        "{ tasks { nodes { ...U assignee { tasks { nodes { assignee { tasks { nodes { ...U } } } } } } } } } "
        "fragment U on Task { assignee { tasks { totalCount } } }"
    )
    body = await gql(client, deep)
    assert codes(body) == ["QUERY_TOO_DEEP"] and body["errors"][0]["extensions"]["depth"] == 11


# graphql-core's own validation: every standard rule but field merging (bounded in app.graphql.limits) does
# work linear in the document on the same shapes. Work is counted as Python function calls.


def fan_out(n: int) -> str:
    spreads = " ".join(f"...F{i}" for i in range(n))
    return f"query {{ {spreads} }} " + " ".join(f"fragment F{i} on Query {{ apiVersion }}" for i in range(n))


def spreading_each_other(n: int) -> str:
    spreads = [" ".join(f"...F{j}" for j in range(i + 1, n)) for i in range(n)]
    return "query { ...F0 } " + " ".join(f"fragment F{i} on Query {{ apiVersion {spreads[i]} }}" for i in range(n))


SHAPES = {
    "doubling chain": (lambda n: chain(n, "apiVersion tasks { nodes { id } }"), 10),
    "fan-out": (fan_out, 50),
    "fragments spreading each other": (spreading_each_other, 8),
    "same-named fields": (lambda n: "{ " + " ".join(["tasks { nodes { id } }"] * n) + " }", 20),
    "introspection chain": (
        lambda n: "{ __schema { types { ...T0 } } } " + chain(n, "fields { name }", on="__Type", root="", name="T"), 10
    ),
}


def nodes(document: DocumentNode) -> int:
    count = 0

    class Counting(Visitor):
        def enter(self, *_: object) -> None:
            nonlocal count
            count += 1

    visit(document, Counting())
    return count


def calls(rule: type[ASTValidationRule], document: DocumentNode) -> int:
    count = 0

    def profile(_frame: object, event: str, _arg: object) -> None:
        nonlocal count
        count += event == "call"

    type_info = TypeInfo(core_schema(schema))
    context = ValidationContext(core_schema(schema), document, type_info, lambda _: None)
    visitor = TypeInfoVisitor(type_info, ParallelVisitor([rule(context)]))
    sys.setprofile(profile)
    try:
        visit(document, visitor)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("shape", SHAPES)
def test_graphql_cores_other_rules_work_linearly_on_adversarial_shapes(shape: str) -> None:
    build, n = SHAPES[shape]
    small, large = parse(build(n)), parse(build(2 * n))
    growth = nodes(large) / nodes(small)
    for rule in specified_rules:
        if rule is not OverlappingFieldsCanBeMergedRule:
            assert calls(rule, large) <= 1.3 * growth * calls(rule, small), rule.__name__
