"""The rules behind replica routing, without servers: freshness from the primary's samples, which statements
only read, which connections serving and migrating configure."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings, describe_errors
from app.stores.postgres import tortoise_config
from app.stores.replicas import PrimarySamples, format_lsn, parse_lsn
from app.stores.sql import is_read
from app.tasks import queries

PRIMARY = "postgres://taskboard:taskboard@127.0.0.1:5432/taskboard_test"
REPLICAS = "postgres://taskboard:pw@10.0.0.2:5432/taskboard_test, postgres://taskboard:pw@10.0.0.3/taskboard_test"


def test_a_replica_holds_every_commit_made_before_the_newest_sample_it_has_replayed() -> None:
    samples = PrimarySamples(keep_s=60)
    samples.add(10.0, 100)
    samples.add(10.1, 100)  # idle primary: same position, later time
    samples.add(10.2, 250)
    samples.add(10.3, 400)

    assert samples.fresh_as_of(99) is None  # older than anything kept: unknown, never fresh
    assert samples.fresh_as_of(100) == 10.1
    assert samples.fresh_as_of(399) == 10.2
    assert samples.fresh_as_of(400) == 10.3
    assert samples.fresh_as_of(10_000) == 10.3
    assert samples.latest == 400


def test_samples_older_than_the_window_are_dropped_but_the_newest_stays() -> None:
    samples = PrimarySamples(keep_s=1.0)
    samples.add(0.0, 10)
    samples.add(0.5, 20)
    samples.add(5.0, 30)
    assert samples.fresh_as_of(20) is None and samples.fresh_as_of(30) == 5.0
    samples.add(9.0, 30)  # unchanged: one sample, its time moves on
    assert samples.fresh_as_of(30) == 9.0


def test_wal_positions_read_and_print_like_postgresql() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("16/B374D848")) == "16/B374D848"
    assert format_lsn(0) == "0/0"


@pytest.mark.parametrize(
    ("sql", "reads"),
    [
        ("SELECT 1", True),
        ('  select "id" FROM "tasks" WHERE "id"=$1', True),
        ('SELECT "id" FROM "tasks" WHERE "id"=ANY($1) FOR UPDATE', False),
        ('SELECT "id" FROM "tasks" FOR NO KEY UPDATE', False),
        ('SELECT "id" FROM "tasks" FOR SHARE', False),
        ('INSERT INTO "tasks" ("id") VALUES ($1) RETURNING "id"', False),
        ('UPDATE "tasks" SET "assignee_id"=NULL RETURNING "id"', False),
        ("WITH gone AS (DELETE FROM tasks RETURNING id) SELECT id FROM gone", False),
    ],
)
def test_only_plain_selects_may_run_on_a_replica(sql: str, reads: bool) -> None:
    assert is_read(sql) is reads


@pytest.mark.usefixtures("stores")  # compiling needs the initialised models
def test_compiled_statements_know_whether_they_only_read() -> None:
    assert queries.by_id_statement().reads is True
    assert queries.by_ids_statement().reads is True
    assert queries.locked_statement().reads is False  # FOR UPDATE: the primary, inside the write
    assert queries.insert_statement().reads is False


def test_replica_urls_are_a_comma_separated_list_of_postgres_urls() -> None:
    settings = Settings(database_url=PRIMARY, database_replica_urls=REPLICAS)
    assert settings.database_replica_urls == [
        "postgres://taskboard:pw@10.0.0.2:5432/taskboard_test", "postgres://taskboard:pw@10.0.0.3/taskboard_test",
    ]
    assert Settings(database_url=PRIMARY, database_replica_urls="").database_replica_urls == []
    with pytest.raises(ValidationError) as error:
        Settings(database_replica_urls="mysql://x:secret@db/x")
    message = describe_errors(error.value)  # what start-up prints
    assert "DATABASE_REPLICA_URLS: Value error, must be postgres:// URLs (mysql://x:***@db/x is not)" in message
    assert "secret" not in message


def test_serving_configures_each_replica_and_migrations_only_the_primary() -> None:
    settings = Settings(database_url=PRIMARY, database_replica_urls=REPLICAS)

    serving = tortoise_config(settings)
    assert list(serving["connections"]) == ["default", "replica1", "replica2"]
    assert serving["connections"]["replica2"]["credentials"]["host"] == "10.0.0.3"
    assert serving["apps"]["models"]["default_connection"] == "default"

    migrating = tortoise_config(settings, bounded=False)  # what `taskboard migrate` (aerich) runs with
    assert list(migrating["connections"]) == ["default"]
    assert migrating["connections"]["default"]["credentials"]["port"] == 5432
