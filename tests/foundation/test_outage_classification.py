"""Telling a store outage from a bug (app.stores.outages), with the exceptions the real drivers raise against
ports nothing listens on, and the errors the app's own code raises."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from graphql import GraphQLError
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from tortoise import connections
from tortoise.exceptions import OperationalError

from app.common.errors import ServiceUnavailable
from app.graphql.errors import shape_error
from app.stores.outages import Outage, as_service_unavailable, outage_of, reason_of
from tests.support.processes import free_port


async def _raised(awaitable) -> BaseException:
    try:
        await awaitable
    except BaseException as exc:  # noqa: BLE001 - the exception is the result
        return exc
    raise AssertionError("expected an exception")


async def _postgres_refused() -> BaseException:
    return await _raised(asyncpg.connect(host="127.0.0.1", port=free_port(), user="x", database="x", timeout=2))


async def _mongodb_refused() -> BaseException:
    client = AsyncMongoClient(f"mongodb://127.0.0.1:{free_port()}/x", serverSelectionTimeoutMS=200)
    try:
        return await _raised(client.admin.command("ping"))
    finally:
        await client.close()


async def _redis_refused() -> BaseException:
    client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    try:
        return await _raised(client.ping())
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("failure", "store"),
    [(_postgres_refused, "postgres"), (_mongodb_refused, "mongodb"), (_redis_refused, "redis")],
)
async def test_a_store_that_refuses_connections_is_an_outage_of_that_store(failure, store: str) -> None:
    error = await failure()

    assert outage_of(error) == Outage(store, "unreachable")  # type: ignore[arg-type]
    converted = as_service_unavailable(error)
    assert isinstance(converted, ServiceUnavailable)
    assert (converted.code, converted.extensions) == ("SERVICE_UNAVAILABLE", {"store": store, "retryable": True})
    assert "127.0.0.1" not in converted.message
    assert as_service_unavailable(error) is converted  # one failure, one client error (and one log line)


async def test_a_sql_error_is_a_bug_not_an_outage(stores: None) -> None:
    error = await _raised(connections.get("default").execute_query("SELECT no_such_column FROM tasks"))

    assert isinstance(error, OperationalError)  # tortoise's wrapper; its asyncpg cause is no outage either
    assert outage_of(error) is None
    assert as_service_unavailable(error) is None


async def test_errors_raised_outside_the_drivers_are_not_outages() -> None:
    own_timeout = await _raised(asyncio.wait_for(asyncio.sleep(1), 0.01))
    for error in (OSError("disk"), ConnectionRefusedError("elsewhere"), own_timeout, ValueError("bad")):
        assert outage_of(error) is None
    assert reason_of(own_timeout) == "timeout"  # the health check's own time-out still reads as one
    assert reason_of(ValueError("bad")) == "error"


async def test_error_shaping_answers_outages_as_service_unavailable_and_masks_the_rest() -> None:
    refused = await _mongodb_refused()

    shaped = shape_error(GraphQLError("boom", path=["users"], original_error=refused))
    assert shaped.message == "mongodb is unavailable; retry later"
    assert shaped.extensions == {"code": "SERVICE_UNAVAILABLE", "store": "mongodb", "retryable": True}
    assert shaped.path == ["users"]
    masked = shape_error(GraphQLError("boom", path=["users"], original_error=ConnectionRefusedError("elsewhere")))
    assert masked.extensions["code"] == "INTERNAL"
