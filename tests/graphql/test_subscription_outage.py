"""When the app's Redis goes away and comes back, subscribers are told (RESYNC) and events flow again."""

from __future__ import annotations

import tempfile

from tests.cache.helpers import SamePortRedis
from tests.graphql.test_subscriptions import create_task
from tests.support.processes import app_server, throwaway_redis
from tests.support.ws import subscription

RESYNC = "subscription { taskChanged { kind message task { title } } }"


async def test_subscriber_hears_about_the_outage_and_gets_events_after_recovery() -> None:
    workdir = tempfile.mkdtemp(prefix="taskboard-redis-outage-")
    with throwaway_redis() as (redis_url, first_process), app_server({"REDIS_URL": redis_url, "EVENTS_PING_S": "0.5"}) as app:
        restarts = SamePortRedis(redis_url, workdir)
        try:
            async with subscription(app.base_url, RESYNC) as subscriber:
                first_process.kill()
                first_process.wait()
                lost = (await subscriber.next_payload(timeout=15))["data"]["taskChanged"]
                assert lost["kind"] == "RESYNC" and lost["message"].startswith("DISCONNECTED")

                restarts.start()
                back = (await subscriber.next_payload(timeout=20))["data"]["taskChanged"]
                assert back["kind"] == "RESYNC" and back["message"].startswith("RECONNECTED")

                await create_task(app.base_url, title="after the outage")
                event = (await subscriber.next_payload(timeout=15))["data"]["taskChanged"]
                assert (event["kind"], event["task"]["title"]) == ("CREATED", "after the outage")
        finally:
            restarts.stop()


async def test_writes_succeed_while_redis_is_down() -> None:
    with throwaway_redis() as (redis_url, process), app_server({"REDIS_URL": redis_url}) as app:
        process.kill()
        process.wait()
        task = await create_task(app.base_url, title="written during the outage")
        assert task["title"] == "written during the outage"

