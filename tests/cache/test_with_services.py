"""The cache as resolvers and DataLoaders will use it, on real task rows: hits cost no SQL, writes show at once."""

from __future__ import annotations

from app.auth.principal import SYSTEM
from app.cache import typed
from app.stores.query_log import record_statements
from app.tasks import keys
from app.tasks import service as tasks
from app.tasks.service import TaskRow
from tests.cache.conftest import MakeCache
from tests.cache.helpers import listening, new_id

ROW = typed(TaskRow | None)


async def test_a_cached_dataloader_batch_costs_one_query_then_none_and_reloads_only_what_changed(
    make_cache: MakeCache, stores: None
) -> None:
    cache = make_cache()
    created = [await tasks.create_task(title=f"batch {n}", actor=SYSTEM) for n in range(3)]
    ids = [task.id for task in created] + [new_id()]  # the last one does not exist

    async def task_by_id(batch: list[str]) -> list[TaskRow | None]:  # what the Loaders container would hold
        return await cache.get_many(batch, keys.task, lambda missing: tasks.get_tasks_by_ids(ids=missing), ROW)

    with record_statements() as cold:
        first = await task_by_id(ids)
    with record_statements() as warm:
        second = await task_by_id(ids)

    assert first == second == [*created, None]
    assert cold.count == 1
    assert warm.count == 0

    async with listening(cache.invalidate):
        renamed = await tasks.update_task(task_id=created[1].id, title="renamed", actor=SYSTEM)
    with record_statements() as after_write:
        third = await task_by_id(ids)

    assert third == [created[0], renamed, created[2], None]
    assert after_write.count == 1
