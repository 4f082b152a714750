"""deploy/kubernetes.yaml cannot run here, so it is kept correct by reading: every variable it sets is a setting
(or one the entrypoint reads), every command is a `taskboard` subcommand, probe paths are routes of the app, the
ports agree with the Dockerfile, and the values it sets are valid settings in production."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from app.cli import build_parser
from app.main import create_app
from app.settings import Settings
from tests.support.processes import ROOT

MANIFEST = ROOT / "deploy" / "kubernetes.yaml"


def documents() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text())}


def containers() -> list[dict[str, Any]]:
    docs = documents()
    return [*docs["Job"]["spec"]["template"]["spec"]["containers"],
            *docs["Deployment"]["spec"]["template"]["spec"]["containers"]]


def entrypoint_variables() -> set[str]:
    return set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "scripts" / "docker-entrypoint").read_text()))


def test_the_manifest_has_the_pieces_the_readme_describes() -> None:
    assert set(documents()) == {"Secret", "Job", "Deployment", "Service"}


def test_every_variable_is_a_setting_or_read_by_the_entrypoint() -> None:
    known = {name.upper() for name in Settings.model_fields} | entrypoint_variables()
    names = set(documents()["Secret"]["stringData"])
    for container in containers():
        names |= {variable["name"] for variable in container.get("env", [])}
    assert "TASKBOARD_SKIP_MIGRATE" in entrypoint_variables()
    assert names - known == set()


def test_the_values_make_valid_production_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = documents()["Secret"]["stringData"]
    deployment = documents()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    values = {**secret, **{v["name"]: v["value"] for v in deployment["env"]}}
    fields = {name.upper() for name in Settings.model_fields}
    for name, value in values.items():
        if name in fields:
            monkeypatch.setenv(name, value)
    # The placeholder public key is not a key: the example's shape is checked, not its secrets.
    monkeypatch.delenv("JWT_RS256_PUBLIC_KEY", raising=False)
    monkeypatch.setenv("JWT_HS256_SECRET", "x" * 48)
    settings = Settings(_env_file=None)
    assert settings.app_env == "prod"
    assert settings.port == int(deployment["ports"][0]["containerPort"])


def test_commands_are_taskboard_subcommands() -> None:
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    commands = [c.get("command", []) + c.get("args", []) for c in containers()]
    assert commands == [["taskboard", "migrate"], ["taskboard", "serve", "--workers", "2"]]
    for command in commands:
        build_parser().parse_args(command[1:])  # exits (SystemExit) on anything the CLI does not take
        assert command[1] in subcommands


def test_probes_are_routes_and_ports_match_the_dockerfile(monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = documents()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    paths = {route.path for route in create_app(Settings(_env_file=None)).routes}
    assert deployment["readinessProbe"]["httpGet"]["path"] == "/health/ready" in paths
    assert deployment["livenessProbe"]["httpGet"]["path"] == "/health/live" in paths
    exposed = re.search(r"^EXPOSE (\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert exposed is not None and int(exposed.group(1)) == deployment["ports"][0]["containerPort"]
    assert documents()["Service"]["spec"]["ports"][0]["targetPort"] == deployment["ports"][0]["name"]
