"""Auth settings: prod refuses missing, placeholder or short secrets, naming the variable; bounds hold."""

from __future__ import annotations

import pytest

from app.settings import DEV_JWT_SECRET, Settings, load_settings
from tests.auth.keys import rsa_pair

STRONG = "k3y-" + "q" * 40


def refused(capsys: pytest.CaptureFixture[str], **overrides: object) -> str:
    with pytest.raises(SystemExit) as exit_info:
        load_settings(_env_file=None, **overrides)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "changeme", "short-secret", "secret"])
def test_prod_refuses_placeholder_or_short_secrets(secret: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "JWT_HS256_SECRET" in refused(capsys, app_env="prod", jwt_hs256_secret=secret)


def test_prod_refuses_to_start_without_any_verification_key(capsys: pytest.CaptureFixture[str]) -> None:
    error = refused(capsys, app_env="prod", jwt_hs256_secret="")
    assert "JWT_HS256_SECRET" in error and "JWT_RS256_PUBLIC_KEY" in error


def test_prod_starts_with_a_strong_secret_or_a_public_key_only() -> None:
    assert Settings(_env_file=None, app_env="prod", jwt_hs256_secret=STRONG).is_prod
    _, public = rsa_pair()
    only_rs256 = Settings(_env_file=None, app_env="prod", jwt_hs256_secret="", jwt_rs256_public_key=public)
    assert only_rs256.jwt_rs256_public_key == public.strip()


def test_dev_and_test_run_with_the_placeholder() -> None:
    assert Settings(_env_file=None, app_env="dev").jwt_hs256_secret.get_secret_value() == DEV_JWT_SECRET


def test_secret_is_never_shown_in_the_settings_repr() -> None:
    settings = Settings(_env_file=None, jwt_hs256_secret=STRONG)
    assert STRONG not in repr(settings) and STRONG not in str(settings.model_dump())


def test_public_key_from_a_one_line_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    _, public = rsa_pair()
    monkeypatch.setenv("JWT_RS256_PUBLIC_KEY", public.strip().replace("\n", "\\n"))
    assert Settings(_env_file=None).jwt_rs256_public_key == public.strip()


def test_invalid_public_key_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JWT_RS256_PUBLIC_KEY", "not a key")
    assert "JWT_RS256_PUBLIC_KEY" in refused(capsys)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("JWT_LEEWAY_S", "600"), ("MAX_BODY_BYTES", "0"), ("RATE_LIMIT_POINTS", "0"), ("QUERY_MAX_COST", "-1")],
)
def test_bounds_name_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    assert variable in refused(capsys)


def test_max_cost_may_not_exceed_the_rate_limit_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert "QUERY_MAX_COST" in refused(capsys, query_max_cost=500, rate_limit_points=100)


def test_cors_origins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example, https://b.example/ ,")
    assert Settings(_env_file=None).cors_allow_origins == ["https://a.example", "https://b.example"]
