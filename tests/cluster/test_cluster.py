"""Redis Cluster (REDIS_CLUSTER=true): settings, key slots, and two app instances on a real 3-master cluster.

The two-instance tests run on the shared test cluster (`scripts/services up redis-cluster`); the failover test
starts a throwaway cluster of its own, so killing a master never touches the one later tests use.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from redis.crc import key_slot

from app.abuse.keys import all_buckets, buckets
from app.cache import keys as cache_keys
from app.common.changes import Change, ChangeKind, Entity
from app.events import keys as channel_keys
from app.graphql import keys as response_keys
from app.settings import Settings
from app.tags import keys as tag_keys
from app.tasks import keys as task_keys
from app.tasks.queries import TaskFilters
from app.users import keys as user_keys
from tests.cluster.support import ThrowawayCluster, throwaway_cluster
from tests.graphql.test_subscriptions import create_task, post
from tests.support.processes import app_server
from tests.support.ws import subscription

CLUSTER_PORT = 7001  # scripts/services up redis-cluster (scripts/test starts it)
SHARED_CLUSTER = f"redis://127.0.0.1:{CLUSTER_PORT}/0"
CHANGED = "subscription { taskChanged { kind message task { id title } } }"
TODO_PAGE = "{ tasks(filter: {status: [TODO]}, first: 100) { totalCount nodes { id } } }"


def slot(name: str) -> int:
    return key_slot(name.encode())


# ------------------------------------------------------------------------------------ settings


@pytest.mark.parametrize("url", ["redis://127.0.0.1:7001/3", "redis://127.0.0.1:7001?db=2"])
def test_a_cluster_url_naming_another_database_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(redis_cluster=True, redis_url=url)
    assert "Redis Cluster has database 0 only" in str(refused.value)
    assert Settings(redis_cluster=False, redis_url=url).redis_url == url  # one node: any database


def test_taskboard_refuses_to_start_with_such_a_url() -> None:
    import subprocess
    import sys

    from tests.support.processes import ROOT

    env = {"REDIS_CLUSTER": "true", "REDIS_URL": "redis://127.0.0.1:7001/5", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "REDIS_URL" in done.stderr and "database 0 only" in done.stderr


@pytest.mark.parametrize("url", ["redis://127.0.0.1:7001", "redis://127.0.0.1:7001/0", "redis://:pw@host:7001/"])
def test_database_0_or_none_is_accepted(url: str) -> None:
    assert Settings(redis_cluster=True, redis_url=url).redis_cluster is True


# ------------------------------------------------------------------------------------ slots


def test_an_entry_and_the_stamps_of_its_own_group_share_one_slot() -> None:
    # Rows: the entry, its epoch copy, the shard's bulk stamp and its row stamp: one MGET, one slot.
    for key in (task_keys.task("t1"), tag_keys.tag("g1"), user_keys.user("u1"), tag_keys.task_tags("t1")):
        own = [key.key, *key.stamps[:3]]
        assert len({slot(name) for name in own}) == 1, key
    # Lists of one entity: the entry and every stamp it names (its home group).
    filters = TaskFilters(statuses=(), assignee_ids=("u1", "u2"), unassigned=True)
    for key in (task_keys.task_page({"p": 1}, filters), task_keys.tasks_by_assignee("u1"), user_keys.user_page({})):
        assert len({slot(name) for name in [key.key, *key.stamps]}) == 1, key
    # A fill lock lives with its entry.
    key = task_keys.task("t1")
    assert slot(cache_keys.fill_lock(key.key, ["a", "b"])) == slot(key.key)


def test_entries_that_depend_on_other_groups_name_which_and_each_group_is_one_slot() -> None:
    # The tag list also depends on the task collection, an unfiltered task page (it knows nothing of what it
    # holds) and a task's tags on the tag collection: two slots each.
    page = task_keys.task_page({"p": 1})
    assert {slot(name) for name in [page.key, *page.stamps]} == {
        slot(cache_keys.collection_stamp(Entity.TASK)), slot(cache_keys.collection_stamp(Entity.TAG))
    }
    assert {slot(name) for name in [tag_keys.tag_list().key, *tag_keys.tag_list().stamps]} == {
        slot(cache_keys.collection_stamp(Entity.TAG)), slot(cache_keys.collection_stamp(Entity.TASK))
    }
    task_tags = tag_keys.task_tags("t1")
    assert {slot(name) for name in [task_tags.key, *task_tags.stamps]} == {
        slot(task_keys.task("t1").key), slot(cache_keys.collection_stamp(Entity.TAG))
    }
    # Whole responses: the entry with its epoch copy in a response group; fallbacks in the entity homes.
    response = response_keys.response({"q": "{ tasks { totalCount } }"})
    assert slot(response.key) == slot(response.stamps[0])
    assert {slot(name) for name in response.stamps[1:]} == {slot(cache_keys.collection_stamp(e)) for e in Entity}


def test_rows_and_responses_spread_over_sixteen_slots_per_kind() -> None:
    row_slots = {slot(task_keys.task(f"id-{n}").key) for n in range(500)}
    assert len(row_slots) == cache_keys.ROW_SHARDS
    response_slots = {slot(response_keys.response({"n": n}).key) for n in range(500)}
    assert len(response_slots) == cache_keys.ROW_SHARDS
    # Every group has an epoch copy; a bump replaces all of them.
    assert len(cache_keys.epochs()) == len({cache_keys.group_of(name) for name in cache_keys.epochs()})
    assert {cache_keys.group_of(key.key) for key in (task_keys.task("x"), response_keys.response({}))} <= {
        cache_keys.group_of(name) for name in cache_keys.epochs()
    }


def test_a_bulk_write_bumps_every_shards_copy_of_the_bulk_stamp() -> None:
    bumped = cache_keys.stamps_to_bump(Change(Entity.TASK, ChangeKind.UPDATED, ()))
    for n in range(200):
        assert task_keys.task(f"id-{n}").stamps[1] in bumped


def test_channels_share_one_slot_and_rate_limit_buckets_spread_over_sixteen() -> None:
    channels = [task_keys.task_events(0), channel_keys.control(0), channel_keys.channel(0, "other")]
    assert len({slot(name) for name in channels}) == 1
    assert len({slot(name) for name in all_buckets()}) == 16
    assert slot(buckets("user:1")) in {slot(name) for name in all_buckets()}


# ------------------------------------------------------------------------- two instances


@pytest.fixture(scope="module")
def two_instances_on_the_cluster():
    env = {"REDIS_CLUSTER": "true", "REDIS_URL": SHARED_CLUSTER}
    with app_server(env) as a, app_server({**env, "REDIS_URL": f"redis://127.0.0.1:{CLUSTER_PORT + 1}/0"}) as b:
        yield a, b


async def test_a_subscriber_on_one_instance_receives_a_write_made_on_the_other(two_instances_on_the_cluster) -> None:
    a, b = two_instances_on_the_cluster  # B was pointed at another node: any node will do
    async with subscription(b.base_url, CHANGED) as subscriber:
        created = await create_task(a.base_url, title="from A on the cluster")
        event = (await subscriber.next_payload())["data"]["taskChanged"]
    assert (event["kind"], event["task"]) == ("CREATED", {"id": created["id"], "title": "from A on the cluster"})


async def test_a_list_read_on_the_other_instance_right_after_the_write_shows_it(two_instances_on_the_cluster) -> None:
    a, b = two_instances_on_the_cluster
    before = (await post(b.base_url, TODO_PAGE))["tasks"]  # B caches the page (and its whole response)
    assert (await post(b.base_url, TODO_PAGE))["tasks"] == before

    created = await create_task(a.base_url, title="listed at once")

    after = (await post(b.base_url, TODO_PAGE))["tasks"]
    assert after["totalCount"] == before["totalCount"] + 1
    assert created["id"] in [node["id"] for node in after["nodes"]]
    task = 'query($id: ID!) { task(id: $id) { title } }'
    await post(a.base_url, 'mutation($id: ID!) { updateTask(id: $id, input: {title: "renamed"}) { id } }',
               {"id": created["id"]})
    assert (await post(b.base_url, task, {"id": created["id"]}))["task"]["title"] == "renamed"


# ------------------------------------------------------------------------------ failover


def _failover_env(cluster: ThrowawayCluster) -> dict[str, str]:
    """An app on the throwaway cluster that notices a lost connection within a second."""
    return {"REDIS_CLUSTER": "true", "REDIS_URL": cluster.url, "EVENTS_PING_S": "0.5", "EVENTS_RECONNECT_MAX_S": "0.5"}


async def _resync_then_events_again(
    cluster: ThrowawayCluster, app: Any, subscriber: Any, *, told_within_s: float, title: str
) -> None:
    """After a master was killed: the subscriber is told, told again once it is back, and hears events again."""
    lost = (await subscriber.next_payload(timeout=told_within_s))["data"]["taskChanged"]
    # The subscriber is told, as for a Redis outage
    assert lost["kind"] == "RESYNC" and lost["message"].startswith("DISCONNECTED")

    # When the node comes back (with its slots) the subscriber is told again, and events flow
    cluster.up()
    back = (await subscriber.next_payload(timeout=30))["data"]["taskChanged"]
    assert back["kind"] == "RESYNC" and back["message"].startswith("RECONNECTED")
    created = await create_task(app.base_url, title=title)
    event = (await subscriber.next_payload(timeout=15))["data"]["taskChanged"]
    assert (event["kind"], event["task"]["id"]) == ("CREATED", created["id"])


async def test_killing_the_master_of_the_events_slot_gives_resync_then_events_again() -> None:
    with throwaway_cluster() as cluster, app_server(_failover_env(cluster)) as app:
        async with subscription(app.base_url, CHANGED) as subscriber:
            # When the primary serving the events slot dies
            cluster.kill(cluster.port_serving(task_keys.task_events(0)))
            await _resync_then_events_again(cluster, app, subscriber, told_within_s=20, title="after the failover")


async def test_killing_another_master_fails_the_cluster_and_gives_resync_not_silence() -> None:
    # Publishes to the events slot are refused while the cluster is down, though the hub's own node is fine.
    with throwaway_cluster() as cluster, app_server(_failover_env(cluster)) as app:
        async with subscription(app.base_url, CHANGED) as subscriber:
            events_port = cluster.port_serving(task_keys.task_events(0))
            other = next(port for port in range(cluster.base_port, cluster.base_port + 3) if port != events_port)
            cluster.kill(other)
            await _resync_then_events_again(cluster, app, subscriber, told_within_s=30, title="after the other master")
