"""Member tokens for the bench's requests, minted with the measured code's own token code.

Every request the bench sends carries `Authorization: Bearer <member token>`: a pool of members (one per
seeded user, 200) that the closed-loop workloads rotate through request by request and the mixed workload
uses one member per request; the fan-out gives every subscriber its own principal (seeded users first,
then ids without a user document: a subscription never reads the user). The peers ignore the header.
All tokens are minted in one subprocess (`app.auth.tokens.mint_for_settings`, what `taskboard token` runs),
HS256 with the bench's fixed secret, member role, valid 4 h.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from benchkit.config import WORK_DIR
from benchkit.database import app_command, app_env
from benchkit.source import Source

TTL_S = 4 * 3600
_MINT = """
import json, sys
from app.auth.tokens import mint_for_settings
from app.settings import get_settings
settings = get_settings()
ids = json.load(sys.stdin)
print(json.dumps([mint_for_settings(settings, user_id=i, role="member", ttl_s=%d) for i in ids]))
""" % TTL_S


@dataclass(frozen=True)
class Member:
    user_id: str
    token: str

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"

    def headers(self) -> dict[str, str]:
        return {"accept": "application/json", "authorization": self.authorization}


_members: list[Member] = []


def synthetic_user_id(n: int) -> str:
    """A well-formed user id that no seeded user has (fan-out principals beyond the seeded users)."""
    return f"be0c{n:020x}"


def mint_members(source: Source, user_ids: list[str]) -> list[Member]:
    """Member tokens for user_ids, in order; [] when this code cannot mint (then requests go without one)."""
    command = [app_command()[0], "-c", _MINT]  # the venv's python, importing the measured source
    result = subprocess.run(command, input=json.dumps(user_ids), env=app_env(source), cwd=source.path,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        (WORK_DIR / "logs" / "mint.log").write_text(result.stdout + result.stderr)
        return []
    tokens = json.loads(result.stdout.strip().splitlines()[-1])
    return [Member(user_id, token) for user_id, token in zip(user_ids, tokens, strict=True)]


_principals: list[Member] = []


def setup(source: Source, user_ids: list[str], principals: int) -> int:
    """Mint the member pool (one per seeded user) and `principals` distinct principals in all (the seeded
    users first, then synthetic ids); returns the pool's size (0 when this code cannot mint)."""
    ids = user_ids + [synthetic_user_id(n) for n in range(max(0, principals - len(user_ids)))]
    minted = mint_members(source, ids)
    _principals[:] = minted
    _members[:] = minted[: len(user_ids)]
    return len(_members)


def members() -> list[Member]:
    """The member pool: one member per seeded user."""
    return list(_members)


def principals(count: int) -> list[Member]:
    """`count` distinct principals (fewer when the code cannot mint that many: then [])."""
    return _principals[:count] if len(_principals) >= count else []


def principal_count() -> int:
    return len(_members)


def headers(index: int = 0) -> dict[str, str]:
    """Headers of a bench request sent as member `index` of the pool (Accept only without tokens)."""
    if not _members:
        return {"accept": "application/json"}
    return _members[index % len(_members)].headers()


def authorization(index: int = 0) -> str:
    return _members[index % len(_members)].authorization if _members else ""


def tokens_file() -> str:
    """The pool's tokens, one 'Bearer ...' per line, for wrk's script to rotate through ('' without tokens)."""
    if not _members:
        return ""
    path = WORK_DIR / "tokens.txt"
    path.write_text("".join(m.authorization + "\n" for m in _members))
    return str(path)
