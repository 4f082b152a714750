"""MONGODB_URL's replica-set options: they reach pymongo, user writes carry the URL's write concern, and each
user read path selects the primary or the URL's readPreference as documented (app.stores.mongo).

FerretDB runs no replica set, so which member answered cannot be observed here; what pymongo selected servers
with can: its own server-selection and command logs (DEBUG), read from the real driver talking to FerretDB.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pymongo.read_concern import ReadConcern
from pymongo.read_preferences import Primary, SecondaryPreferred
from pymongo.write_concern import WriteConcern

from app.auth.principal import SYSTEM
from app.schema import PARTS
from app.settings import Settings
from app.stores import mongo, routing
from app.users import service
from app.users.documents import User
from tests.support.auth import bearer
from tests.support.processes import app_server

OPTIONS = "readPreference=secondaryPreferred&maxStalenessSeconds=120&w=majority"


def with_options(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{OPTIONS}"


def test_replica_set_options_in_the_url_reach_pymongo() -> None:
    url = ("mongodb://db1.example:27017,db2.example:27017/taskboard?replicaSet=rs0&readPreference=secondaryPreferred"
           "&maxStalenessSeconds=120&w=majority&readConcernLevel=majority")
    # The async client connects on its first operation: nothing is resolved or opened here.
    client = mongo.make_client(Settings(mongodb_url=url))
    assert client.options.replica_set_name == "rs0"
    assert client.read_preference == SecondaryPreferred(max_staleness=120)
    assert client.write_concern == WriteConcern(w="majority")
    assert client.read_concern == ReadConcern("majority")
    assert client.get_default_database().name == "taskboard"


@pytest.fixture
async def reconnect(settings: Settings, stores: None) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Reconnect the app's MongoDB client with the replica-set options (and settings) a test asks for; the
    session's client comes back afterwards."""

    async def to(**overrides: Any) -> None:
        await mongo.close()
        await mongo.connect(settings.model_copy(update={"mongodb_url": with_options(settings.mongodb_url), **overrides}),
                            PARTS.documents)

    try:
        yield to
    finally:
        await mongo.close()
        await mongo.connect(settings, PARTS.documents)


class DriverLog(logging.Handler):
    """pymongo's structured DEBUG logs: the selector of each operation, and each command as sent."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.selected: list[tuple[str, str]] = []
        self.sent: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = json.loads(record.getMessage())
        if message.get("message") == "Server selection started":
            self.selected.append((message["operation"], message["selector"].split("(")[0]))
        elif message.get("message") == "Command started":
            self.sent.append(json.loads(message["command"]))

    def take(self) -> list[tuple[str, str]]:
        taken, self.selected = self.selected, []
        return taken


@pytest.fixture
def driver() -> AsyncIterator[DriverLog]:
    handler = DriverLog()
    loggers = [logging.getLogger("pymongo.serverSelection"), logging.getLogger("pymongo.command")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)


def query_as(actor: str, call: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
    """call() as a query operation of `actor` would run it."""
    return routing.run(routing.Route(actor=actor, may_lag=True), call)


def mutation_as(actor: str, call: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
    return routing.run(routing.Route(actor=actor, may_lag=False), call)


def reads(selected: list[tuple[str, str]]) -> set[str]:
    """The selectors of the reads (writes select with pymongo's writable-server function)."""
    return {selector for operation, selector in selected if operation in ("find", "aggregate", "count")}


async def test_user_writes_carry_the_urls_write_concern_and_read_the_primary(reconnect, driver) -> None:
    await reconnect(cache_enabled=False)
    collection = User.get_pymongo_collection()
    assert collection.write_concern == WriteConcern(w="majority")
    assert collection.read_preference == Primary()  # outside a read path that allows a secondary

    user = await mutation_as("admin-1", lambda: service.create_user(email="wc@example.com", name="W", actor=SYSTEM))
    await mutation_as("admin-1", lambda: service.update_user(user_id=str(user.id), name="W2", actor=SYSTEM))

    written = [command for command in driver.sent if command.keys() & {"insert", "findAndModify"}]
    assert [next(iter(command)) for command in written] == ["insert", "findAndModify"]
    assert all(command["writeConcern"] == {"w": "majority"} for command in written)
    assert reads(driver.take()) == {"Primary"}  # the update's read of the current user: the primary


async def test_lists_batches_and_stats_may_use_the_urls_read_preference(reconnect, driver) -> None:
    await reconnect(cache_enabled=False)
    user = await service.create_user(email="list@example.com", name="L", actor=SYSTEM)
    reader = f"reader-{secrets.token_hex(4)}"
    driver.take()

    page = await query_as(reader, lambda: service.find_users(with_total=True))
    assert [u.email for u in page.items] == ["list@example.com"] and page.total_count == 1
    assert reads(driver.take()) == {"SecondaryPreferred"}

    found = await query_as(reader, lambda: service.get_users_by_ids(ids=[str(user.id)]))
    assert found[0] is not None and found[0].name == "L"
    assert reads(driver.take()) == {"SecondaryPreferred"}

    stats = await query_as(reader, lambda: service.user_stats(user_ids=[str(user.id)]))
    assert stats[0].user is not None
    assert reads(driver.take()) == {"SecondaryPreferred"}


async def test_reads_that_must_be_current_use_the_primary(reconnect, driver) -> None:
    await reconnect(cache_enabled=False)
    user = await service.create_user(email="auth@example.com", name="A", actor=SYSTEM)
    reader = f"reader-{secrets.token_hex(4)}"
    driver.take()

    assert (await query_as(reader, lambda: service.get_user_by_email(email="AUTH@example.com"))) is not None
    assert (await query_as(reader, lambda: service.get_user(user_id=str(user.id)))) is not None
    assert await query_as(reader, lambda: service.existing_user_ids(ids=[str(user.id)])) == {str(user.id)}
    assert reads(driver.take()) == {"Primary"}

    # The same list read inside a mutation (its answer follows its own write): the primary.
    await mutation_as(reader, lambda: service.find_users())
    assert reads(driver.take()) == {"Primary"}


async def test_after_its_own_write_a_caller_lists_from_the_primary_and_others_do_not(reconnect, driver) -> None:
    await reconnect(cache_enabled=False)
    writer, other = f"writer-{secrets.token_hex(4)}", f"other-{secrets.token_hex(4)}"

    await mutation_as(writer, lambda: service.create_user(email="own@example.com", name="O", actor=SYSTEM))
    driver.take()

    mine = await query_as(writer, lambda: service.find_users())
    assert [u.email for u in mine.items] == ["own@example.com"]
    assert reads(driver.take()) == {"Primary"}

    await query_as(other, lambda: service.find_users())
    assert reads(driver.take()) == {"SecondaryPreferred"}


async def test_with_the_shared_cache_on_every_user_read_uses_the_primary(reconnect, driver) -> None:
    await reconnect(cache_enabled=True)
    user = await service.create_user(email="cached@example.com", name="C", actor=SYSTEM)
    driver.take()

    await query_as("reader", lambda: service.find_users())
    await query_as("reader", lambda: service.get_users_by_ids(ids=[str(user.id)]))
    assert reads(driver.take()) == {"Primary"}


async def test_an_instance_runs_with_the_options_and_counts_where_user_lists_read(settings: Settings) -> None:
    env = {"MONGODB_URL": with_options(settings.mongodb_url), "CACHE_ENABLED": "false"}
    with app_server(env) as app:
        async with httpx.AsyncClient(base_url=app.base_url, timeout=20) as http:
            writer, reader = bearer(secrets.token_hex(12), "admin"), bearer(secrets.token_hex(12), "admin")
            created = await http.post("/graphql", headers=writer, json={
                "query": 'mutation { createUser(input: {email: "inst@example.com", name: "I"}) { id } }'})
            assert "errors" not in created.json(), created.json()
            for who in (writer, reader):
                listed = (await http.post("/graphql", headers=who, json={"query": "{ users { nodes { email } } }"})).json()
                assert {"email": "inst@example.com"} in listed["data"]["users"]["nodes"], listed
            metrics = (await http.get("/metrics")).text

    counted = {line.split(" ")[0]: float(line.split(" ")[1]) for line in metrics.splitlines()
               if line.startswith("taskboard_mongo_reads_total{")}
    assert counted == {
        'taskboard_mongo_reads_total{read_preference="primary",reason="own_write"}': 1.0,
        'taskboard_mongo_reads_total{read_preference="secondaryPreferred",reason="query"}': 1.0,
    }
