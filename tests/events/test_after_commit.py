"""Events leave only after the transaction commits: a rolled-back write publishes nothing."""

from __future__ import annotations

import pytest

from app import events
from app.common import changes
from app.stores import sql
from tests.cache.helpers import listening, new_id, task_changed
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

    async with events.task_events(hub) as stream, listening(publisher.publish):
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
    assert publisher.stats() == {"published": 1, "publish_errors": 0}
