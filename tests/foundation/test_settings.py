"""Settings: defaults that match the local services, invalid values stop start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.settings import Settings, load_settings, mask_url
from tests.support.processes import ROOT


def test_defaults_point_at_the_local_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "MONGODB_URL", "REDIS_URL", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("postgres://taskboard:taskboard@127.0.0.1:5432/")
    assert settings.mongodb_url.startswith("mongodb://127.0.0.1:27017/")
    assert settings.redis_url.startswith("redis://127.0.0.1:6379/")
    assert settings.app_env == "dev"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PG_POOL_MAX", "lots"), ("APP_ENV", "staging"), ("DATABASE_URL", "mysql://x@y/z"), ("REDIS_POOL_MAX", "0")],
)
def test_invalid_value_exits_naming_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        load_settings()
    assert exit_info.value.code == 2
    assert variable in capsys.readouterr().err


def test_pool_min_above_max_is_rejected(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PG_POOL_MIN", "20")
    monkeypatch.setenv("PG_POOL_MAX", "5")
    with pytest.raises(SystemExit):
        load_settings()
    assert "PG_POOL_MIN" in capsys.readouterr().err


def test_cli_refuses_to_start_with_invalid_setting() -> None:
    env = {**os.environ, "MONGO_POOL_MAX": "-3"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "MONGO_POOL_MAX" in result.stderr


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgres://bob:s3cret@db:5432/x") == "postgres://bob:***@db:5432/x"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert "s3cret" not in mask_url("mongodb://u:s3cret@h/db?tls=true")


def test_metrics_settings_empty_means_unset_and_the_port_must_differ(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "")
    monkeypatch.setenv("METRICS_PORT", "")
    settings = load_settings()
    assert settings.metrics_token is None and settings.metrics_port is None
    assert "s3cret" not in repr(Settings(_env_file=None, metrics_token="s3cret"))  # type: ignore[call-arg]
    monkeypatch.setenv("PORT", "9100")
    monkeypatch.setenv("METRICS_PORT", "9100")
    with pytest.raises(SystemExit):
        load_settings()
    assert "METRICS_PORT must differ from PORT" in capsys.readouterr().err
