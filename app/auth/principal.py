"""Who is calling: a frozen Principal on every request context (ANONYMOUS when no token was sent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Role(str, Enum):
    MEMBER = "member"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user (user_id, role from a verified token), a named system actor, or nobody."""

    user_id: str | None
    role: Role | None
    scopes: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    token_id: str | None = None
    # Set for actors that are not users: CLI commands, data migrations ("system:data-migrate").
    system_name: str | None = field(default=None, compare=False)

    @property
    def is_authenticated(self) -> bool:
        return self.role is not None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def actor_id(self) -> str:
        """How the audit log names this actor."""
        if self.system_name is not None:
            return self.system_name
        return self.user_id or "anonymous"

    def rights_key(self) -> str:
        """Names the rights this principal reads with: equal keys see exactly the same data."""
        if self.is_admin:
            return "admin"
        if self.is_authenticated:
            return f"member:{self.user_id}"
        return "anonymous"


ANONYMOUS = Principal(user_id=None, role=None)


def system(name: str) -> Principal:
    """An admin-level actor for work no user started (CLI, data migrations, seeding)."""
    return Principal(user_id=None, role=Role.ADMIN, system_name=f"system:{name}")


# Who writes when no request does and no more specific name fits (tests of the service layer, scripts).
# Services never default to it: every caller passes `actor=` explicitly.
SYSTEM = system("internal")
