"""Start-up, readiness and shutdown of real app processes (uvicorn), with real and throwaway stores."""

from __future__ import annotations

import httpx

from tests.support.auth import admin_headers
from tests.support.processes import app_server, free_port, start_app, throwaway_redis, wait_until


async def test_live_and_ready_in_process(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "live"}

    ready = await client.get("/health/ready")
    body = ready.json()
    assert ready.status_code == 200, body
    assert body["status"] == "ready"
    for store in ("postgres", "mongodb", "redis"):
        assert body["checks"][store]["status"] == "up"
        assert body["checks"][store]["latency_ms"] >= 0
    assert body["checks"]["migrations"] == {"status": "up", "pending": []}


def test_redis_down_makes_ready_degraded_not_unready_and_the_api_still_answers() -> None:
    with throwaway_redis() as (redis_url, redis_process), app_server({"REDIS_URL": redis_url}) as server:
        ready = httpx.get(f"{server.base_url}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"

        redis_process.kill()
        redis_process.wait()

        ready = httpx.get(f"{server.base_url}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text  # every instance shares Redis: none may leave the fleet
        body = ready.json()
        assert (body["status"], body["degraded"], body["failing"]) == ("degraded", ["redis"], [])
        assert body["checks"]["redis"]["status"] == "down"
        assert body["checks"]["redis"]["error"] in ("timeout", "unreachable")
        assert "127.0.0.1" not in ready.text and "Errno" not in ready.text  # the driver's text is only logged
        assert body["checks"]["postgres"]["status"] == "up"
        assert httpx.get(f"{server.base_url}/health/live", timeout=5).status_code == 200
        answer = httpx.post(f"{server.base_url}/graphql", json={"query": "{ tasks(first: 1) { nodes { id } } }"},
                            headers=admin_headers(), timeout=10)
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text


def test_graceful_shutdown_closes_the_stores() -> None:
    server = start_app({"LOG_LEVEL": "INFO"})
    assert httpx.get(f"{server.base_url}/health/ready", timeout=5).status_code == 200
    code = server.stop()
    # uvicorn re-raises the signal it handled once shutdown is complete.
    assert code in (0, -15)
    log = server.log()
    assert "taskboard stopped" in log
    assert log.index("taskboard ready") < log.index("taskboard stopped")
    assert "Traceback" not in log


def test_unreachable_store_at_start_up_exits_naming_it_with_password_masked() -> None:
    port = free_port()
    server = start_app(
        {
            "DATABASE_URL": f"postgres://taskboard:hunter2@127.0.0.1:{port}/taskboard_test",
            "STARTUP_TIMEOUT_S": "1",
        },
        wait_ready=False,
    )
    assert wait_until(lambda: server.process.poll() is not None, 30)
    assert server.process.returncode != 0
    log = server.log()
    assert f"postgres unreachable at postgres://taskboard:***@127.0.0.1:{port}/taskboard_test" in log
    assert "hunter2" not in log
