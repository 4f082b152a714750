#!/usr/bin/env python3
"""Probe (not a test): FerretDB's CPU per 50-id `$in` load of users, stock v1.24.2 against the build with
scripts/ferretdb/*.patch, at 200 and 10,000 users.

Each build runs as a throwaway FerretDB (SQLite handler, temporary directory, a free port on 127.0.0.1; never the
shared 27017) holding user-shaped documents. The figure is the server process's CPU time (utime + stime from
/proc) over a run of finds like the users_by_id loader's (50 random ObjectIds, the read model's projection),
divided by the number of finds; the run goes on until it has spent a few seconds of CPU or made --max-queries.

    .venv/bin/python scripts/ferretdb/probe.py [--users 200,10000] [--ids 50] [--cpu-seconds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bson import ObjectId
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
PROJECTION = {"_id": 1, "email": 1, "name": 1, "avatar": 1, "profile": 1, "created_at": 1, "updated_at": 1}


def binary(stock: bool) -> str:
    command = [str(ROOT / "scripts" / "services"), "ferretdb-bin", *(["--stock"] if stock else [])]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


@contextmanager
def server(path: str) -> Iterator[tuple[MongoClient, int]]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="taskboard-ferretdb-probe-")
    process = subprocess.Popen(
        [path, "--handler=sqlite", f"--sqlite-url=file:{workdir}/", f"--listen-addr=127.0.0.1:{port}",
         "--telemetry=disable", "--debug-addr=-", f"--state-dir={workdir}", "--log-level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client: MongoClient = MongoClient(f"mongodb://127.0.0.1:{port}/", directConnection=True,
                                      serverSelectionTimeoutMS=15_000)
    try:
        client.admin.command("ping")
        yield client, process.pid
    finally:
        client.close()
        process.kill()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def seed(client: MongoClient, count: int) -> list[ObjectId]:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    docs = [
        {"_id": ObjectId(), "email": f"user{i}@example.com", "name": f"User {i}", "avatar": None,
         "profile": {"bio": "x" * 40, "timezone": "UTC", "settings": {"theme": "dark", "n": i}},
         "role": "member", "created_at": now, "updated_at": now}
        for i in range(count)
    ]
    users = client.probe.users
    for start in range(0, count, 1000):
        users.insert_many(docs[start:start + 1000])
    assert users.count_documents({}) == count
    return [doc["_id"] for doc in docs]


def measure(client: MongoClient, pid: int, ids: list[ObjectId], *, batch: int, cpu_budget: float,
            max_queries: int) -> tuple[float, int]:
    """Server CPU seconds per find and the number of finds measured."""
    users = client.probe.users
    rng = random.Random(1)
    for _ in range(3):  # warm up (connection, statement cache)
        list(users.find({"_id": {"$in": rng.sample(ids, batch)}}, PROJECTION))
    start, queries = cpu_seconds(pid), 0
    while queries < max_queries and (queries < 10 or cpu_seconds(pid) - start < cpu_budget):
        wanted = rng.sample(ids, batch)
        found = list(users.find({"_id": {"$in": wanted}}, PROJECTION))
        assert sorted(doc["_id"] for doc in found) == sorted(wanted)
        queries += 1
    time.sleep(0.05)  # let the server's last accounting land
    return (cpu_seconds(pid) - start) / queries, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="200,10000", help="collection sizes, comma-separated")
    parser.add_argument("--ids", type=int, default=50, help="ids per $in")
    parser.add_argument("--cpu-seconds", type=float, default=3.0, help="server CPU to spend per measurement")
    parser.add_argument("--max-queries", type=int, default=2000)
    args = parser.parse_args()

    builds = {"stock": binary(stock=True), "patched": binary(stock=False)}
    print(f"{'users':>6}  {'build':<8} {'finds':>6}  {'CPU ms per find':>15}")
    for count in (int(size) for size in args.users.split(",")):
        per_find = {}
        for name, path in builds.items():
            with server(path) as (client, pid):
                ids = seed(client, count)
                per_find[name], queries = measure(client, pid, ids, batch=args.ids, cpu_budget=args.cpu_seconds,
                                                  max_queries=args.max_queries)
            print(f"{count:>6}  {name:<8} {queries:>6}  {per_find[name] * 1000:>15.2f}", flush=True)
        print(f"{count:>6}  stock/patched: {per_find['stock'] / per_find['patched']:.0f}x", flush=True)


if __name__ == "__main__":
    main()
