"""Key and stamp names: versioned, stable for equal parameters, distinct for different ones."""

from __future__ import annotations

from app.cache import keys as cache_keys
from app.common.changes import Change, ChangeKind, Entity
from app.tags import keys as tag_keys
from app.tasks import keys as task_keys
from app.tasks.models import Priority, TaskStatus
from app.tasks.queries import SortField, TaskFilters, TaskSort
from app.users import keys as user_keys


def test_every_key_stamp_and_channel_carries_the_version_prefix() -> None:
    built = [
        task_keys.task("t1"),
        tag_keys.task_tags("t1"),
        task_keys.task_page({"a": 1}),
        task_keys.tasks_by_assignee("u1"),
        tag_keys.tag("g1"),
        tag_keys.tag_list(),
        user_keys.user("u1"),
        user_keys.user_page({}),
        user_keys.user_stats(["u1"]),
    ]
    names = [key.key for key in built] + [stamp for key in built for stamp in key.stamps]
    names += [*cache_keys.epochs(), task_keys.task_events(0)]
    assert all(name.startswith("tb:v4:{") for name in names)


def test_page_keys_ignore_dict_and_set_order_but_not_values() -> None:
    first = task_keys.task_page({"statuses": {"TODO", "COMPLETED"}, "page": 1, "limit": 20})
    same = task_keys.task_page({"limit": 20, "page": 1, "statuses": {"COMPLETED", "TODO"}})
    other = task_keys.task_page({"limit": 20, "page": 2, "statuses": {"COMPLETED", "TODO"}})
    assert first == same
    assert first.key != other.key


def test_a_row_depends_on_its_own_stamp_and_the_bulk_stamp_a_page_on_the_collection_stamps() -> None:
    # Every entry first depends on its group's copy of the epoch; a row's group is one of its entity's shards.
    shard = "tb:v4:{task:%d}" % cache_keys.shard_of("t1")
    assert shard == "tb:v4:{task:12}"  # pinned: entries filled by the previous release stay reachable
    assert task_keys.task("t1").key == f"{shard}:t1"
    assert task_keys.task("t1").stamps == (f"{shard}:epoch", f"{shard}:gen:all", f"{shard}:gen:id:t1")
    assert task_keys.task_page({}).stamps == ("tb:v4:{task}:epoch", "tb:v4:{task}:gen", "tb:v4:{tag}:gen")
    # The tag list's counts follow tasks entering or leaving the lists and tag-link changes, not field edits
    assert tag_keys.tag_list().stamps == (
        "tb:v4:{tag}:epoch", "tb:v4:{tag}:gen", "tb:v4:{task}:gen:part", "tb:v4:{task}:gen:part:in.rows:any",
        "tb:v4:{task}:gen:part:tags.rows:any",
    )
    # A task's tags follow its row and its tag links; its row does not follow its tag links
    assert tag_keys.task_tags("t1").stamps[2:] == (
        f"{shard}:gen:id:t1", f"{shard}:gen:id:t1:tags", "tb:v4:{tag}:gen",
    )
    links = Change(Entity.TASK, ChangeKind.TAGS_CHANGED, ("t1",), ("tags",), partitions=(), part="tags")
    assert cache_keys.stamps_to_bump(links) == [f"{shard}:gen:id:t1:tags", "tb:v4:{task}:gen"]


def _stamps_of(page: cache_keys.CacheKey) -> set[str]:
    return {stamp.removeprefix("tb:v4:{task}:gen:part:") for stamp in page.stamps if ":gen:part:" in stamp}


def _bumped(partitions: tuple[tuple[str, str], ...]) -> set[str]:
    return {f"{dimension}:{value}" for dimension, value in partitions}


def test_a_page_of_ids_follows_rows_entering_its_slices_and_the_columns_it_filters_or_sorts_by() -> None:
    todo = TaskFilters(statuses=(TaskStatus.TODO,))
    by_creation = task_keys.task_page({"p": 1}, todo, TaskSort(SortField.CREATED_AT))
    by_priority = task_keys.task_page({"p": 2}, todo, TaskSort(SortField.PRIORITY))
    high = task_keys.task_page({"p": 3}, TaskFilters(priorities=(Priority.HIGH,)), TaskSort(SortField.CREATED_AT))
    assert _stamps_of(by_creation) == {"in.status:TODO"}
    assert _stamps_of(by_priority) == {"in.status:TODO", "f.priority.status:TODO"}
    assert _stamps_of(high) == {"in.rows:any", "f.priority.rows:any"}

    # A priority change of a TODO task (still TODO, same assignee) names content and field stamps only
    priority = _bumped(task_keys.update_partitions(("TODO", "u1", "t", None), ("TODO", "u1", "t", None), ["priority"]))
    assert not _stamps_of(by_creation) & priority
    assert _stamps_of(by_priority) & priority and _stamps_of(high) & priority
    # A move to COMPLETED names both statuses' members stamps, not the assignee's nor every row's
    moved = _bumped(task_keys.update_partitions(("TODO", "u1", "t", None), ("COMPLETED", "u1", "t", None), ["status"]))
    assert {"in.status:TODO", "in.status:COMPLETED"} <= moved
    assert not {"in.assignee:u1", "in.rows:any"} & moved
    # A create names the members stamps of every slice it enters
    created = _bumped(task_keys.row_partitions(("TODO", None, "t", None)))
    assert {"in.status:TODO", "in.assignee:-", "in.rows:any", "status:TODO", "rows:any"} <= created


def test_a_search_list_follows_the_text_slice_of_its_first_three_characters() -> None:
    search = task_keys.task_page({"p": 1}, TaskFilters(search="Login"), TaskSort(SortField.CREATED_AT))
    text = {stamp for stamp in _stamps_of(search) if stamp.startswith("in.text:")}
    assert "in.text:*" in text and len(text) == 2 and "in.rows:any" not in _stamps_of(search)
    # A task whose title contains the search (in any case) enters that slice; one that does not, not
    matching = _bumped(task_keys.row_partitions(("TODO", None, "Fix LOGIN page", None)))
    assert text - {"in.text:*"} <= matching
    # Short and non-ASCII searches, and lists filtered by non-ASCII tag names, need every row
    newest = TaskSort(SortField.CREATED_AT)
    for filters in (TaskFilters(search="lo"), TaskFilters(search="café"), TaskFilters(tags_any=("café",))):
        assert "in.rows:any" in _stamps_of(task_keys.task_page({"p": 2}, filters, newest))
    # A search among tagged tasks follows the tags, and any title or description edit
    tagged = task_keys.task_page({"p": 3}, TaskFilters(search="login", tags_any=("A",)), newest)
    assert _stamps_of(tagged) == {"in.tag:a", "in.tag:*", "f.title.rows:any", "f.description.rows:any"}
    # Work per write is bounded: a long text names the wildcard slice only
    long = _bumped(task_keys.row_partitions(("TODO", None, "t", "x" * 5_000)))
    assert {stamp for stamp in long if stamp.startswith("in.text:")} == {"in.text:*"}
    # A title edit names the text slices of the old and the new title; a priority edit none
    def texts(partitions: tuple[tuple[str, str], ...]) -> set[str]:
        return {stamp for stamp in _bumped(partitions) if stamp.startswith("in.text:")}

    old, new = ("TODO", None, "old title", None), ("TODO", None, "new", None)
    assert texts(task_keys.update_partitions(old, new, ["title"])) == texts(task_keys.row_partitions(old, new))
    assert texts(task_keys.update_partitions(old, old, ["priority"])) == set()


def test_a_change_bumps_its_rows_and_collection_and_one_without_ids_the_bulk_stamp() -> None:
    # A change that does not say which list slices it touched (partitions=None) bumps them all.
    named = Change(Entity.TASK, ChangeKind.UPDATED, ("t1", "t2"))
    unnamed = Change(Entity.USER, ChangeKind.UPDATED, ())
    assert cache_keys.stamps_to_bump(named) == [
        cache_keys.row_stamp(Entity.TASK, "t1"), cache_keys.row_stamp(Entity.TASK, "t2"), "tb:v4:{task}:gen:part",
        "tb:v4:{task}:gen",
    ]
    # Every row shard's copy of the bulk stamp
    bulk = [f"tb:v4:{{user:{n}}}:gen:all" for n in range(cache_keys.ROW_SHARDS)]
    assert cache_keys.stamps_to_bump(unnamed) == [*bulk, "tb:v4:{user}:gen:part", "tb:v4:{user}:gen"]


def test_channels_are_scoped_by_redis_database_because_pub_sub_is_not() -> None:
    assert task_keys.task_events(0) != task_keys.task_events(4)
