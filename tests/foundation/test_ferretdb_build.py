"""The FerretDB that `scripts/services` builds (README: Services): FerretDB v1.24.2 with scripts/ferretdb/*.patch,
whose SQLite backend answers `_id` equality, `$eq` and `$in` through the `_id` index and still returns exactly what
the filter matches. Each test starts its own FerretDB from that binary (never the shared one)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database

from tests.support.processes import ROOT, ferretdb_binary, free_port, listening, throwaway_ferretdb, wait_until

PATCHES = ROOT / "scripts" / "ferretdb"
SERVICES = ROOT / "scripts" / "services"
PUSHDOWN_LIMIT = 10_000
# One SQLite plan line that looks rows up in the collection's `_id` index (FerretDB names it <table>__id_).
INDEX_SEARCH = re.compile(r"SEARCH \S+ USING INDEX \S+__id_ \(<expr>=\?\)")

OIDS = [ObjectId() for _ in range(300)]
# The last string id is an ObjectId's hex spelling, of no ObjectId stored.
STRING_IDS = [f"s{i}" for i in range(39)] + [str(ObjectId())]
OTHER_IDS: list[Any] = [7, 8]
DOCS = [{"_id": key, "n": i, "group": "ab"[i % 2]} for i, key in enumerate(OIDS + STRING_IDS + OTHER_IDS)]


def patch_digest() -> str:
    """The digest scripts/services names its build after: sha256 of `sha256sum` over the patch files, 8 digits."""
    listing = "".join(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
                      for path in sorted(PATCHES.glob("*.patch")))
    return hashlib.sha256(listing.encode()).hexdigest()[:8]


def key(value: Any) -> tuple[str, str]:
    """An `_id` that compares across types: an ObjectId never equals its hex string."""
    return type(value).__name__, str(value)


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    with throwaway_ferretdb(database="idcheck") as (url, _process):
        client: MongoClient = MongoClient(url, directConnection=True, serverSelectionTimeoutMS=10_000)
        try:
            db = client.get_default_database()
            db.docs.insert_many(DOCS)
            yield db
        finally:
            client.close()


def found(db: Database, query: dict) -> list[tuple[str, str]]:
    return [key(doc["_id"]) for doc in db.docs.find(query)]


def expected(predicate: Callable[[dict], bool]) -> list[tuple[str, str]]:
    return sorted(key(doc["_id"]) for doc in DOCS if predicate(doc))


def plan_of(db: Database, query: dict) -> tuple[bool, list[str]]:
    """FerretDB's explain: whether the filter was pushed down to SQLite, and SQLite's EXPLAIN QUERY PLAN lines for
    the statement it runs."""
    result = db.command("explain", {"find": "docs", "filter": query})
    return result["filterPushdown"], result["queryPlanner"]["Plan"]


def test_the_binary_is_the_build_of_the_current_patches() -> None:
    binary = ferretdb_binary()

    assert "sqlite-id-index.patch" in {path.name for path in PATCHES.glob("*.patch")}
    assert binary.name == f"ferretdb-v1.24.2-taskboard.{patch_digest()}"
    assert binary.is_file() and os.access(binary, os.X_OK)
    assert "v1.24.2" in subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout


MISSING = [ObjectId(), "nobody"]
IN_CASES: dict[str, tuple[dict, Callable[[dict], bool]]] = {
    "object ids": ({"_id": {"$in": OIDS[:50]}}, lambda d: d["_id"] in OIDS[:50]),
    "mixed object ids and strings, missing ids, duplicates": (
        {"_id": {"$in": [OIDS[3], "s5", *MISSING, OIDS[3], "s5", OIDS[299], STRING_IDS[39]]}},
        lambda d: d["_id"] in (OIDS[3], "s5", OIDS[299], STRING_IDS[39]),
    ),
    # The SQL pre-filter compares JSON text, where an ObjectId and its hex string look alike: FerretDB's own
    # filter must still drop the other type.
    "an object id's hex string finds no object id": ({"_id": {"$in": [str(OIDS[0]), str(OIDS[1])]}}, lambda d: False),
    "a string's object id finds no string": ({"_id": {"$in": [ObjectId(STRING_IDS[39]), OIDS[0]]}},
                                             lambda d: d["_id"] == OIDS[0]),
    "an equality with a string's object id": ({"_id": ObjectId(STRING_IDS[39])}, lambda d: False),
    "$in with another condition": (
        {"_id": {"$in": OIDS[:20] + STRING_IDS[:10]}, "group": "a"},
        lambda d: d["_id"] in OIDS[:20] + STRING_IDS[:10] and d["group"] == "a",
    ),
    "$in with $or": (
        {"_id": {"$in": OIDS[:20]}, "$or": [{"n": {"$lt": 5}}, {"n": {"$gte": 15}}]},
        lambda d: d["_id"] in OIDS[:20] and (d["n"] < 5 or d["n"] >= 15),
    ),
    "equality": ({"_id": OIDS[7]}, lambda d: d["_id"] == OIDS[7]),
    "string equality with another condition": (
        {"_id": "s2", "n": {"$gt": 0}}, lambda d: d["_id"] == "s2" and d["n"] > 0
    ),
    "$eq": ({"_id": {"$eq": "s3"}}, lambda d: d["_id"] == "s3"),
    "$in of one": ({"_id": {"$in": [OIDS[9]]}}, lambda d: d["_id"] == OIDS[9]),
    f"{PUSHDOWN_LIMIT} values": (
        {"_id": {"$in": OIDS + [ObjectId() for _ in range(PUSHDOWN_LIMIT - len(OIDS))]}},
        lambda d: d["_id"] in OIDS,
    ),
}
# Not pushed down (more values than the patch sends to SQLite, or values whose matching is not a comparison of
# JSON text): answered by FerretDB's scan, still exactly.
SCAN_CASES: dict[str, tuple[dict, Callable[[dict], bool]]] = {
    f"{PUSHDOWN_LIMIT + 1} values": (
        {"_id": {"$in": OIDS + [ObjectId() for _ in range(PUSHDOWN_LIMIT + 1 - len(OIDS))]}},
        lambda d: d["_id"] in OIDS,
    ),
    "numbers among the values": (
        {"_id": {"$in": [7, 8.0, OIDS[0], "s0"]}}, lambda d: d["_id"] in (7, 8, OIDS[0], "s0")
    ),
    "$in with $nin": ({"_id": {"$in": OIDS[:5], "$nin": OIDS[:2]}}, lambda d: d["_id"] in OIDS[2:5]),
    "no _id condition": ({"group": "b", "n": {"$lt": 6}}, lambda d: d["group"] == "b" and d["n"] < 6),
}


@pytest.mark.parametrize("case", list(IN_CASES))
def test_id_conditions_return_exactly_the_matching_documents_through_the_id_index(
    database: Database, case: str
) -> None:
    query, predicate = IN_CASES[case]

    rows = found(database, query)

    assert sorted(rows) == expected(predicate)
    assert len(rows) == len(set(rows))
    pushed, plan = plan_of(database, query)
    assert pushed and any(INDEX_SEARCH.search(line) for line in plan), plan


def test_an_empty_in_is_pushed_down_and_finds_nothing(database: Database) -> None:
    query = {"_id": {"$in": []}}

    assert found(database, query) == []
    # `WHERE <expr> IN ()`: SQLite plans a SCAN but evaluates the constant-false term once, before reading a row.
    assert plan_of(database, query)[0]


@pytest.mark.parametrize("case", list(SCAN_CASES))
def test_other_conditions_are_scanned_and_still_exact(database: Database, case: str) -> None:
    query, predicate = SCAN_CASES[case]

    assert sorted(found(database, query)) == expected(predicate)
    pushed, plan = plan_of(database, query)
    assert not pushed and any("SCAN" in line for line in plan) and not any("INDEX" in line for line in plan), plan


def test_updates_and_deletes_by_id_change_exactly_those_documents(database: Database) -> None:
    writes = database.writes
    writes.insert_many([{"_id": key, "v": 0} for key in OIDS[:30] + STRING_IDS[:10]])

    assert writes.update_one({"_id": OIDS[0]}, {"$set": {"v": 1}}).modified_count == 1
    assert writes.update_many({"_id": {"$in": [OIDS[1], "s1", ObjectId()]}}, {"$inc": {"v": 2}}).modified_count == 2
    assert writes.delete_many({"_id": {"$in": [OIDS[2], "s2", str(OIDS[3])]}}).deleted_count == 2

    assert {key(doc["_id"]): doc["v"] for doc in writes.find({"v": {"$ne": 0}})} == {key(OIDS[0]): 1, key(OIDS[1]): 2,
                                                                                   key("s1"): 2}
    assert writes.count_documents({}) == 38
    assert writes.count_documents({"_id": {"$in": [OIDS[2], "s2", OIDS[3]]}}) == 1


@pytest.fixture
def services_ferretdb() -> Iterator[tuple[dict[str, str], Path]]:
    """The environment for a `scripts/services up ferretdb` on a free port with a private state directory."""
    state = Path(tempfile.mkdtemp(prefix="taskboard-services-"))
    env = {**os.environ, "TASKBOARD_MONGO_PORT": str(free_port()), "TASKBOARD_STATE_DIR": str(state)}
    try:
        yield env, state
    finally:
        pidfile = state / "ferretdb" / "ferretdb.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)


def services_up(env: dict[str, str]) -> str:
    return subprocess.run([str(SERVICES), "up", "ferretdb"], env=env, check=True, capture_output=True, text=True,
                          timeout=300).stdout


def test_up_starts_the_patched_build_and_warns_only_when_another_build_runs(
    services_ferretdb: tuple[dict[str, str], Path],
) -> None:
    env, state = services_ferretdb
    port = int(env["TASKBOARD_MONGO_PORT"])

    assert "warning" not in services_up(env)
    pid = (state / "ferretdb" / "ferretdb.pid").read_text().strip()
    assert Path(f"/proc/{pid}/exe").resolve() == ferretdb_binary().resolve()
    assert "already running" in (again := services_up(env)) and "warning" not in again

    os.kill(int(pid), signal.SIGKILL)
    assert wait_until(lambda: not _listening(port), 10)
    # Another build on the port: a copy of the binary at another path stands in for it.
    other = state / "ferretdb-other"
    shutil.copy(ferretdb_binary(), other)
    with throwaway_ferretdb(binary=other, port=port) as (_url, process):
        out = services_up(env)
        assert "already running" in out
        assert f"warning: it runs {other}, not this checkout's build {ferretdb_binary()}" in out
        assert process.poll() is None  # warned, not restarted


def _listening(port: int) -> bool:
    try:
        return listening(port)
    except OSError:
        return False
