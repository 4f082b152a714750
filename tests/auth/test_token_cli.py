"""`taskboard token`: prints a token the app accepts, for a user id or a user looked up by email."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from app.auth.principal import SYSTEM, Role
from app.auth.tokens import TokenVerifier
from app.settings import Settings
from app.users.service import delete_user, get_user_by_email
from tests.support.processes import ROOT


def taskboard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "token", *args], cwd=ROOT, env=dict(os.environ),
        capture_output=True, text=True, timeout=60,
    )


def test_token_for_a_user_id(settings: Settings) -> None:
    result = taskboard("--user-id", "0123456789ABCDEF01234567", "--role", "admin", "--ttl", "120")
    assert result.returncode == 0, result.stderr
    principal = TokenVerifier.from_settings(settings).verify(result.stdout.strip())
    assert principal.user_id == "0123456789abcdef01234567" and principal.role is Role.ADMIN
    assert result.stdout.count("\n") == 1  # only the token: `$(taskboard token ...)` works


def test_bad_arguments_exit_2_with_a_reason() -> None:
    assert taskboard().returncode == 2
    bad_id = taskboard("--user-id", "bob")
    assert bad_id.returncode == 2 and "user id" in bad_id.stderr
    too_long = taskboard("--user-id", "0" * 24, "--ttl", str(400 * 86_400))
    assert too_long.returncode == 2 and "JWT_MAX_TTL_S" in too_long.stderr


async def test_token_by_email_looks_the_user_up_or_creates_it(stores: None, settings: Settings) -> None:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    missing = taskboard("--email", email)
    assert missing.returncode == 1 and "--create" in missing.stderr
    created = taskboard("--email", email, "--create", "--name", "CLI User", "--role", "admin")
    try:
        assert created.returncode == 0, created.stderr
        user = await get_user_by_email(email=email)
        assert user is not None and user.name == "CLI User"
        principal = TokenVerifier.from_settings(settings).verify(created.stdout.strip())
        assert principal.user_id == str(user.id) and principal.is_admin
        again = taskboard("--email", email.upper())
        assert again.returncode == 0
        assert TokenVerifier.from_settings(settings).verify(again.stdout.strip()).role is Role.MEMBER
    finally:
        user = await get_user_by_email(email=email)
        if user is not None:
            await delete_user(user_id=str(user.id), actor=SYSTEM)
