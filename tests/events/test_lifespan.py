"""The app lifespan installs the cache and the hub after the stores open and removes them on shutdown."""

from __future__ import annotations

from redis import Redis as SyncRedis

from app.settings import Settings
from tests.support.processes import start_app, wait_until


def test_a_served_app_holds_one_hub_connection_and_closes_it_on_shutdown(settings: Settings) -> None:
    # On a cluster REDIS_URL names the node that serves the events slot (tests/cluster checks which it is).
    db = str(SyncRedis.from_url(settings.redis_url).connection_pool.connection_kwargs.get("db", 0))

    def hub_connections() -> list[dict]:
        with SyncRedis.from_url(settings.redis_url) as admin:
            clients = admin.client_list()
        return [c for c in clients if c.get("name", "").startswith("taskboard-hub-") and c.get("db") == db]

    before = len(hub_connections())
    server = start_app({"LOG_LEVEL": "INFO"})
    try:
        assert wait_until(lambda: len(hub_connections()) == before + 1, 10)
        # In pub/sub mode with one subscription: the control channel (a sharded channel on a cluster).
        assert all((c["flags"], int(c["sub"]) + int(c.get("ssub", 0))) == ("P", 1) for c in hub_connections())
    finally:
        code = server.stop()

    assert code in (0, -15)
    assert wait_until(lambda: len(hub_connections()) == before, 10)
    log = server.log()
    assert "Traceback" not in log
    assert log.index("taskboard ready") < log.index("taskboard stopped")
