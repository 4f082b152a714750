"""A bearer token for the bench's requests, minted with `taskboard token` when the measured code has it.

Sent on every request to every server (the peers ignore it), so that the measured app can run with
authentication required, as in production, once its access control is wired in.
"""

from __future__ import annotations

import subprocess

from benchkit.database import app_command, app_env
from benchkit.source import Source

_header: dict[str, str] = {}


def mint(source: Source, user_id: str) -> str | None:
    """Mint an admin token for user_id (valid 2 h); None when this code has no `token` command."""
    result = subprocess.run(
        app_command("token", "--user-id", user_id, "--role", "admin", "--ttl", "7200"),
        env=app_env(source), cwd=source.path, capture_output=True, text=True, check=False,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return None
    _header["authorization"] = f"Bearer {lines[-1]}"
    return lines[-1]


def headers() -> dict[str, str]:
    """Headers every bench request carries: Accept, and the token once minted."""
    return {"accept": "application/json", **_header}


def authorization() -> str:
    return _header.get("authorization", "")
