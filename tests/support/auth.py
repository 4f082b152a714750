"""Bearer tokens for tests: the suite acts as an admin unless a test says otherwise."""

from __future__ import annotations

from app.auth.principal import Role
from app.auth.tokens import mint_for_settings
from app.settings import load_settings

# The user the suite's admin token names (no such document needs to exist).
ADMIN_ID = "a0a0a0a0a0a0a0a0a0a0a0a0"


def token_for(user_id: str, role: Role | str = Role.MEMBER, *, ttl_s: int = 3600) -> str:
    """A token the test app accepts (it runs with the same settings as the tests)."""
    return mint_for_settings(load_settings(), user_id=user_id, role=role, ttl_s=ttl_s)


def bearer(user_id: str, role: Role | str = Role.MEMBER, *, ttl_s: int = 3600) -> dict[str, str]:
    """The Authorization header for user_id acting with role."""
    return {"Authorization": f"Bearer {token_for(user_id, role, ttl_s=ttl_s)}"}


def admin_headers() -> dict[str, str]:
    return bearer(ADMIN_ID, Role.ADMIN)
