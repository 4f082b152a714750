"""Exact invalidation: committed changes bump stamps; nothing stale is served, nothing unrelated is lost."""

from __future__ import annotations

import asyncio

from app.auth.principal import SYSTEM
from app.cache import typed
from app.common.changes import Change, ChangeKind, Entity, dispatch
from app.common.pagination import OffsetPage, PageResult
from app.tags import keys as tag_keys
from app.tasks import keys
from app.tasks import service as tasks
from app.tasks.models import TaskStatus
from app.tasks.queries import TaskFilters, TaskSort
from app.tasks.service import TaskRow
from app.users import keys as user_keys
from tests.cache.conftest import MakeCache
from tests.cache.helpers import CountingLoader, eventually, listening, new_id, task_changed

PAGE = typed(PageResult[TaskRow])


async def test_a_dispatched_task_change_invalidates_that_task_and_no_other(make_cache: MakeCache) -> None:
    cache = make_cache()
    changed, untouched = new_id(), new_id()
    await cache.get(keys.task(changed), CountingLoader("old"))
    await cache.get(keys.task(untouched), CountingLoader("kept"))

    async with listening(cache.invalidate):
        await dispatch([task_changed(changed)])

    assert await cache.get(keys.task(changed), CountingLoader("new")) == "new"
    load_untouched = CountingLoader("reloaded")
    assert await cache.get(keys.task(untouched), load_untouched) == "kept"
    assert load_untouched.calls == 0


async def test_any_task_write_invalidates_every_task_page_at_once(make_cache: MakeCache) -> None:
    cache = make_cache()
    pages = [keys.task_page({"status": status, "page": n}) for status in ("TODO", "COMPLETED") for n in (1, 2)]
    for page in pages:
        await cache.get(page, CountingLoader("old page"))

    async with listening(cache.invalidate):
        await dispatch([task_changed(new_id())])

    reloads = CountingLoader("new page")
    assert [await cache.get(page, reloads) for page in pages] == ["new page"] * 4
    assert reloads.calls == 4


async def test_tag_writes_reach_task_pages_and_tag_lists_while_user_writes_leave_tasks_alone(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    page, task, tag_list = keys.task_page({"tags_any": ["urgent"]}), keys.task(new_id()), tag_keys.tag_list()
    user = user_keys.user(new_id())
    for key in (page, task, tag_list, user):
        await cache.get(key, CountingLoader("old"))

    async with listening(cache.invalidate):
        await dispatch([Change(Entity.USER, ChangeKind.UPDATED, (new_id(),), ("name",))])
        assert [await cache.get(key, CountingLoader("new")) for key in (page, task, tag_list, user)] == ["old"] * 4

        await dispatch([Change(Entity.TAG, ChangeKind.UPDATED, (new_id(),), ("name",))])
        assert [await cache.get(key, CountingLoader("new")) for key in (page, task, tag_list)] == ["new", "old", "new"]


async def test_task_writes_invalidate_the_tag_list_counts_and_user_stats(make_cache: MakeCache) -> None:
    cache = make_cache()
    tag_list, stats = tag_keys.tag_list(), user_keys.user_stats([new_id()])
    await cache.get(tag_list, CountingLoader("old"))
    await cache.get(stats, CountingLoader("old"))

    async with listening(cache.invalidate):
        await dispatch([task_changed(new_id(), kind=ChangeKind.DELETED)])

    assert await cache.get(tag_list, CountingLoader("new")) == "new"
    assert await cache.get(stats, CountingLoader("new")) == "new"


async def test_a_change_without_ids_invalidates_every_row_of_that_entity_only(make_cache: MakeCache) -> None:
    cache = make_cache()
    task_ids = [new_id(), new_id()]
    user = user_keys.user(new_id())
    for task_id in task_ids:
        await cache.get(keys.task(task_id), CountingLoader("old"))
    await cache.get(user, CountingLoader("old"))

    async with listening(cache.invalidate):
        await dispatch([Change(Entity.TASK, ChangeKind.UPDATED, ())])

    assert [await cache.get(keys.task(task_id), CountingLoader("new")) for task_id in task_ids] == ["new", "new"]
    assert await cache.get(user, CountingLoader("new")) == "old"


async def test_an_instance_serves_fresh_data_right_after_another_instance_wrote(make_cache: MakeCache) -> None:
    reader, writer = make_cache(), make_cache()
    task_id = new_id()
    page = keys.task_page({"status": "TODO", "nonce": task_id})
    await reader.get(keys.task(task_id), CountingLoader("old"))
    await reader.get(page, CountingLoader("old"))

    async with listening(writer.invalidate):  # only the writing instance hears its own commit
        await dispatch([task_changed(task_id)])

    assert await reader.get(keys.task(task_id), CountingLoader("new")) == "new"
    assert await reader.get(page, CountingLoader("new")) == "new"


async def test_a_fill_that_raced_a_write_is_never_served(make_cache: MakeCache) -> None:
    cache = make_cache()
    task_id = new_id()
    load = CountingLoader("read before the write", gate=asyncio.Event())
    slow_reader = asyncio.create_task(cache.get(keys.task(task_id), load))
    assert await eventually(lambda: load.calls == 1)  # stamps observed, the load is under way

    async with listening(cache.invalidate):
        await dispatch([task_changed(task_id)])
    load.gate.set()
    assert await slow_reader == "read before the write"  # its own caller may: that read began first

    assert await cache.get(keys.task(task_id), CountingLoader("after the write")) == "after the write"


async def test_a_page_on_one_instance_follows_tasks_moved_in_and_out_by_writes_on_another(
    make_cache: MakeCache, stores: None
) -> None:
    reader, writer = make_cache(), make_cache()
    marker = f"cachecheck{new_id().replace('-', '')}"
    leaving = await tasks.create_task(title=f"{marker} leaving", status=TaskStatus.TODO, actor=SYSTEM)
    arriving = await tasks.create_task(title=f"{marker} arriving", status=TaskStatus.COMPLETED, actor=SYSTEM)
    filters = TaskFilters(statuses=(TaskStatus.TODO,), search=marker)
    sort, page = TaskSort(), OffsetPage(page=1, limit=10)

    async def todo_page() -> list[str]:
        result = await reader.get(
            keys.task_page({"filters": filters, "sort": sort, "page": page}),
            lambda: tasks.find_tasks(filters=filters, sort=sort, page=page),
            PAGE,
        )
        return [row.id for row in result.items]

    assert await todo_page() == [leaving.id]
    assert await todo_page() == [leaving.id]
    assert reader.stats()["hits"] == 1

    async with listening(writer.invalidate):
        await tasks.update_task(task_id=leaving.id, status=TaskStatus.COMPLETED, actor=SYSTEM)
        await tasks.update_task(task_id=arriving.id, status=TaskStatus.TODO, actor=SYSTEM)

    assert await todo_page() == [arriving.id]


async def test_an_instance_with_the_cache_disabled_still_invalidates_for_the_others(make_cache: MakeCache) -> None:
    reader, writer = make_cache(), make_cache(enabled=False)  # e.g. during a rolling config change
    task_id = new_id()
    await reader.get(keys.task(task_id), CountingLoader("old"))

    async with listening(writer.invalidate):
        await dispatch([task_changed(task_id)])

    assert await reader.get(keys.task(task_id), CountingLoader("new")) == "new"
