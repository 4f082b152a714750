"""Encryption in transit is configured through each store's URL: PostgreSQL `sslmode`, Redis `rediss://`,
MongoDB `tls=true`, checked against real TLS servers; secrets in URLs never reach the logs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from app.abuse.ratelimit import RateLimiter
from app.settings import Settings, mask_url
from app.stores import mongo as mongo_store
from app.stores.postgres import credentials_from_url
from app.stores.redis import make_client
from tests.access.tls import write_certificates
from tests.support.processes import ferretdb_binary, free_port, wait_until


@pytest.fixture(scope="module")
def certificates() -> Iterator[dict[str, Path]]:
    directory = Path(tempfile.mkdtemp(prefix="taskboard-tls-"))
    try:
        yield write_certificates(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _listening(port: int) -> bool:
    socket.create_connection(("127.0.0.1", port), 0.2).close()
    return True


@pytest.mark.parametrize(("sslmode", "encrypted"), [("require", True), ("disable", False)])
async def test_postgres_sslmode_in_the_url_decides_encryption(settings: Settings, sslmode: str,
                                                              encrypted: bool) -> None:
    credentials = credentials_from_url(f"{settings.database_url}?sslmode={sslmode}", pool_min=1, pool_max=1)
    connection = await asyncpg.connect(
        host=credentials["host"], port=credentials["port"], user=credentials["user"],
        password=credentials["password"], database=credentials["database"], ssl=credentials["ssl"],
    )
    try:
        in_use = await connection.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await connection.close()
    assert in_use is encrypted


def test_unknown_sslmode_is_refused() -> None:
    with pytest.raises(ValueError, match="sslmode"):
        credentials_from_url("postgres://u:p@h/db?sslmode=maybe", pool_min=1, pool_max=1)


async def test_redis_over_tls_with_a_rediss_url(settings: Settings, certificates: dict[str, Path]) -> None:
    port, workdir = free_port(), tempfile.mkdtemp(prefix="taskboard-redis-tls-")
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--tls-cert-file", str(certificates["server.pem"]),
         "--tls-key-file", str(certificates["server.key"]), "--tls-ca-cert-file", str(certificates["ca.pem"]),
         "--tls-auth-clients", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: _listening(port), 10)
        url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={certificates['ca.pem']}"
        client = make_client(settings.model_copy(update={"redis_url": url}))
        try:
            assert await client.ping()
            limiter = RateLimiter(client, points=2, window_s=60, fail_open=False, timeout_s=2)
            assert (await limiter.charge("tb:rl:tls-test", 1)).allowed
        finally:
            await client.aclose()
        plain = make_client(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"}))
        try:
            with pytest.raises(Exception):  # noqa: B017, PT011 - any failure: a TLS port does not speak plain RESP
                await plain.ping()
        finally:
            await plain.aclose()
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_mongodb_over_tls_with_tls_true_in_the_url(settings: Settings, certificates: dict[str, Path]) -> None:
    port, workdir = free_port(), tempfile.mkdtemp(prefix="taskboard-ferretdb-tls-")
    process = subprocess.Popen(
        [str(ferretdb_binary()), "--handler=sqlite", f"--sqlite-url=file:{workdir}/", "--listen-addr=",
         f"--listen-tls=127.0.0.1:{port}", f"--listen-tls-cert-file={certificates['server.pem']}",
         f"--listen-tls-key-file={certificates['server.key']}", "--telemetry=disable", "--debug-addr=-", f"--state-dir={workdir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )
    try:
        assert wait_until(lambda: _listening(port), 15)
        url = f"mongodb://127.0.0.1:{port}/tlscheck?tls=true&tlsCAFile={certificates['ca.pem']}"
        client = mongo_store.make_client(settings.model_copy(update={"mongodb_url": url}))
        try:
            assert (await client.admin.command("ping"))["ok"] == 1
            await client.get_default_database()["probe"].insert_one({"x": 1})
            assert await client.get_default_database()["probe"].count_documents({}) == 1
        finally:
            await client.close()
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def test_urls_are_masked_in_logs() -> None:
    assert mask_url("postgres://app:s3cret@db/x?sslmode=verify-full&sslpassword=k3y") == (
        "postgres://app:***@db/x?sslmode=verify-full&sslpassword=***"
    )
    masked = mask_url("mongodb://app:s3cret@h/db?tls=true&tlsCertificateKeyFilePassword=k3y&appname=tb")
    assert "s3cret" not in masked and "k3y" not in masked and "appname=tb" in masked
    assert mask_url("rediss://:s3cret@cache:6380/0") == "rediss://:***@cache:6380/0"
