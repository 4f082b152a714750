"""Reads on the hot standby: which reads it serves, read-your-writes across instances, lag and a stopped replica.

App instances run as real processes with DATABASE_REPLICA_URLS naming the standby `scripts/services up replica`
starts; where a read ran is what each instance's /metrics counts (taskboard_sql_reads_total).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.support.data import reset_mongo, reset_postgres, seed_board
from tests.support.processes import ROOT
from tests.support.replica import (
    eventually,
    instances,
    primary_position,
    principal,
    replay_paused,
    replica_stopped,
    replica_url,
)

TASK = "query($id: ID!) { task(id: $id) { id title } }"
CREATE = "mutation($t: String!) { createTask(input: {title: $t}) { id title } }"
BOARD = """query($n: Int!) {
  tasks(first: $n, filter: {status: [TODO]}, sort: CREATED_AT_DESC) {
    totalCount
    edges { node { id title tags { name } assignee { name } } }
  }
}"""
ON_REPLICA = Counter({("replica", "query"): 1})


@pytest.fixture(scope="module")
def uncached():
    """Two instances without the shared cache: a reader only needs its own last write."""
    with instances(2, CACHE_ENABLED="false", REPLICA_MAX_LAG_S="60") as pair:
        yield pair


@pytest.fixture(scope="module")
def cached():
    """Two instances with the shared cache on (the default)."""
    with instances(2, CACHE_ENABLED="true", REPLICA_MAX_LAG_S="60") as pair:
        yield pair


def on(target: str, reads: Counter) -> int:
    return sum(count for (where, _), count in reads.items() if where == target)


async def test_a_query_operations_reads_are_served_by_the_replica(uncached) -> None:
    a, _ = uncached
    writer, reader = principal(), principal()
    created, writes = await a.counted(lambda: a.gql(CREATE, {"t": "routed"}, headers=writer))
    task = created["createTask"]
    assert on("replica", writes) == 0  # a mutation reads (if at all) on the primary
    await a.sees_replayed(await primary_position())

    data, reads = await a.counted(lambda: a.gql(TASK, {"id": task["id"]}, headers=reader))

    assert data["task"] == {"id": task["id"], "title": "routed"}
    assert reads == ON_REPLICA


@pytest.mark.usefixtures("stores")
async def test_the_board_costs_three_statements_all_on_the_replica(uncached) -> None:
    a, _ = uncached
    await reset_postgres()
    await reset_mongo()
    await seed_board(tasks=30)
    await a.sees_replayed(await primary_position())

    data, reads = await a.counted(lambda: a.gql(BOARD, {"n": 20}, headers=principal()))

    assert data["tasks"]["totalCount"] == 30 and len(data["tasks"]["edges"]) == 20
    node = data["tasks"]["edges"][0]["node"]
    assert len(node["tags"]) == 2 and node["assignee"]["name"].startswith("P")
    assert reads == Counter({("replica", "query"): 3})  # page + count + tags, whatever the page size


async def test_queryset_reads_take_the_same_route(uncached) -> None:
    a, b = uncached
    writer = principal()
    task = (await a.gql(CREATE, {"t": "audited"}, headers=writer))["createTask"]
    await b.sees_replayed(await primary_position())
    log = "query($id: String!) { auditLog(filter: {entityId: $id}) { totalCount nodes { action entityId } } }"

    data, reads = await b.counted(lambda: b.gql(log, {"id": task["id"]}, headers=principal()))

    assert data["auditLog"]["totalCount"] == 1
    assert data["auditLog"]["nodes"] == [{"action": "create", "entityId": task["id"]}]
    assert reads == Counter({("replica", "query"): 2})  # count and page: Tortoise QuerySets via sql.read


async def test_the_writer_reads_its_write_on_another_instance_while_the_replica_lags(uncached) -> None:
    a, b = uncached
    writer, other = principal(), principal()
    await b.sees_replayed(await primary_position())

    async with replay_paused():
        task = (await a.gql(CREATE, {"t": "mine"}, headers=writer))["createTask"]

        mine, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=writer))
        assert mine["task"] == {"id": task["id"], "title": "mine"}
        assert reads == Counter({("primary", "own_write"): 1})

        # Anyone else may read what the replica has: it has not replayed the write yet.
        theirs, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=other))
        assert theirs["task"] is None
        assert reads == ON_REPLICA

    await b.sees_replayed(await primary_position())
    mine, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=writer))
    assert mine["task"]["title"] == "mine"
    assert reads == ON_REPLICA


async def test_with_the_cache_on_no_reader_fills_from_a_replica_short_of_the_last_write(cached) -> None:
    a, b = cached
    writer, other = principal(), principal()
    await b.sees_replayed(await primary_position())

    async with replay_paused():
        task = (await a.gql(CREATE, {"t": "shared"}, headers=writer))["createTask"]
        # What this read fills is served to everyone until the next write: it must not come from a replica
        # that lacks a write any instance has recorded.
        theirs, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=other))
        assert theirs["task"] == {"id": task["id"], "title": "shared"}
        assert reads == Counter({("primary", "unreplayed_write"): 1})

    later = (await a.gql(CREATE, {"t": "later"}, headers=writer))["createTask"]
    await b.sees_replayed(await primary_position())
    theirs, reads = await b.counted(lambda: b.gql(TASK, {"id": later["id"]}, headers=other))
    assert theirs["task"] == {"id": later["id"], "title": "later"}
    assert reads == ON_REPLICA


async def test_a_replica_lagging_beyond_the_limit_is_skipped() -> None:
    with instances(1, CACHE_ENABLED="false", REPLICA_MAX_LAG_S="0.5") as (app,):
        writer, reader = principal(), principal()
        await app.sees_replayed(await primary_position())
        async with replay_paused():
            task = (await app.gql(CREATE, {"t": "past the lag"}, headers=writer))["createTask"]
            await eventually(lambda: _status_is(app, "lagging"), what="the replica reported lagging")

            status, report = await app.ready()
            assert status == 200 and report["status"] == "degraded"
            assert report["degraded"] == ["postgres_replicas"]

            data, reads = await app.counted(lambda: app.gql(TASK, {"id": task["id"]}, headers=reader))
            assert data["task"]["title"] == "past the lag"
            assert reads == Counter({("primary", "unavailable"): 1})

        await app.sees_replayed(await primary_position())
        data, reads = await app.counted(lambda: app.gql(TASK, {"id": task["id"]}, headers=reader))
        assert data["task"]["title"] == "past the lag" and reads == ON_REPLICA
        assert (await app.ready())[1]["status"] == "ready"


async def test_a_stopped_replica_changes_nothing_visible_but_health(uncached) -> None:
    a, b = uncached
    writer, reader = principal(), principal()
    task = (await a.gql(CREATE, {"t": "survives"}, headers=writer))["createTask"]
    await b.sees_replayed(await primary_position())
    before, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=reader))
    assert reads == ON_REPLICA

    async with replica_stopped():
        # At once, before any poller noticed: the read the replica cannot answer runs on the primary.
        after, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=reader))
        assert after == before
        assert on("replica", reads) == 0 and on("primary", reads) == 1

        await eventually(lambda: _status_is(b, "down"), what="the replica reported down")
        status, report = await b.ready()
        assert status == 200 and report["status"] == "degraded" and report["degraded"] == ["postgres_replicas"]
        assert report["checks"]["postgres"]["status"] == "up"

        again, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=reader))
        assert again == before and reads == Counter({("primary", "unavailable"): 1})
        renamed = await a.gql('mutation($id: ID!) { updateTask(id: $id, input: {title: "renamed"}) { title } }',
                              {"id": task["id"]}, headers=writer)
        assert renamed["updateTask"]["title"] == "renamed"
        assert (await b.gql(TASK, {"id": task["id"]}, headers=writer))["task"]["title"] == "renamed"

    await b.sees_replayed(await primary_position())
    back, reads = await b.counted(lambda: b.gql(TASK, {"id": task["id"]}, headers=reader))
    assert back["task"]["title"] == "renamed" and reads == ON_REPLICA
    assert (await b.ready())[1]["status"] == "ready"


async def _status_is(app, status: str) -> bool:
    return (await app.replica_state())["status"] == status


def test_migrate_runs_on_the_primary_with_replicas_configured() -> None:
    # The standby is read-only: a migration that went there would fail at its first statement.
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DATABASE_REPLICA_URLS": replica_url()},
    )
    assert result.returncode == 0, result.stderr
    assert "applied 0 migration(s)" in result.stdout + result.stderr
