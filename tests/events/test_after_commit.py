"""Events leave only after the transaction commits, and after the cache heard the change: a rolled-back write
publishes nothing; a subscriber reloading on an event reads the new state."""

from __future__ import annotations

import pytest

from app.common import changes
from app.stores import sql
from app.tasks import keys
from app.tasks.events import task_events
from tests.cache.helpers import CountingLoader, listening, new_id, task_changed
from tests.events.conftest import MakeHub
from tests.events.helpers import next_item


class Rollback(Exception):
    pass


async def test_a_rolled_back_transaction_publishes_nothing_and_a_committed_one_publishes_once(
    make_hub: MakeHub, make_publisher, stores: None
) -> None:
    hub = await make_hub()
    publisher = make_publisher()
    rolled_back, committed = new_id(), new_id()

    async with task_events(hub) as stream, listening(publisher.publish):
        with pytest.raises(Rollback):
            async with sql.transaction() as conn:
                await conn.execute("SELECT 1")
                await changes.emit(task_changed(rolled_back))
                raise Rollback
        async with sql.transaction() as conn:
            await conn.execute("SELECT 1")
            await changes.emit(task_changed(committed))
            assert publisher.stats()["published"] == 0  # not before the commit

        first = await next_item(stream)

    assert first.task_id == committed  # the rolled-back change never reached Redis
    assert publisher.stats() == {"published": 1, "publish_errors": 0, "publish_late_timeouts": 0}


async def test_a_subscriber_that_reloads_on_an_event_reads_the_new_state_through_its_own_cache(
    make_hub: MakeHub, make_publisher, make_cache
) -> None:
    hub_b, cache_b = await make_hub(), make_cache()
    cache_a, publisher_a = make_cache(), make_publisher()
    task_id = new_id()
    await cache_b.get(keys.task(task_id), CountingLoader("before"))

    async with task_events(hub_b) as stream, listening(cache_a.invalidate, publisher_a.publish):
        await changes.dispatch([task_changed(task_id)])  # invalidation first, then the event (lifespan order)
        event = await next_item(stream)
        reloaded = await cache_b.get(keys.task(event.task_id), CountingLoader("after"))

    assert reloaded == "after"
