"""Users tests: a clean `users` collection and `tasks` table for every test, change capture, Mongo command log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from beanie import init_beanie
from pymongo import AsyncMongoClient, monitoring

from app.common import changes
from app.common.changes import Change
from app.settings import Settings
from app.stores import mongo, sql
from app.users.documents import User


@pytest.fixture(autouse=True)
async def clean_stores(stores: None) -> AsyncIterator[None]:
    await User.delete_all()
    await sql.execute("TRUNCATE tasks CASCADE")
    yield


@pytest.fixture
def emitted() -> Iterator[list[Change]]:
    """Every Change dispatched while the test runs."""
    seen: list[Change] = []

    async def listener(batch: list[Change]) -> None:
        seen.extend(batch)

    changes.add_listener(listener)
    try:
        yield seen
    finally:
        changes.remove_listener(listener)


class CommandLog(monitoring.CommandListener):
    """Names of the commands sent to the `users` collection (and the commands themselves, in `sent`)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.sent: list[dict] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command.get(event.command_name) == "users":
            self.commands.append(event.command_name)
            self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def mongo_commands(settings: Settings, stores: None) -> AsyncIterator[CommandLog]:
    """Bind User to a second, monitored client on the same database for one test (real server, no mock)."""
    log = CommandLog()
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True, event_listeners=[log])
    try:
        await init_beanie(database=client.get_default_database(), document_models=[User], skip_indexes=True)
        yield log
    finally:
        await init_beanie(database=mongo.database(), document_models=[User], skip_indexes=True)
        await client.close()
