"""A small team for access-control tests: two members, an admin, tasks each owns, a tag; and a fingerprint of
every row so a test can prove that a denied operation wrote nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.auth.principal import SYSTEM, Principal, Role
from app.auth.tokens import mint_token
from app.settings import load_settings
from app.stores import sql
from app.tags import service as tags
from app.tasks import service as tasks
from app.users import service as users
from app.users.documents import User
from tests.support.auth import token_for


@dataclass(frozen=True)
class Member:
    id: str
    email: str
    role: Role

    @property
    def principal(self) -> Principal:
        return Principal(user_id=self.id, role=self.role)

    def token(self, ttl_s: int = 3600) -> str:
        return token_for(self.id, self.role, ttl_s=ttl_s)

    def expired_token(self) -> str:
        settings = load_settings()
        return mint_token(key=settings.jwt_hs256_secret.get_secret_value(), user_id=self.id, role=self.role,
                          ttl_s=60, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                          now=datetime.now(UTC) - timedelta(hours=1))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


@dataclass(frozen=True)
class World:
    alice: Member  # member
    bob: Member  # member
    root: Member  # admin
    alices_task: str  # created by alice, unassigned
    bobs_task: str  # created by root, assigned to bob
    roots_task: str  # created by root, unassigned
    alices_deleted_task: str  # created by alice, soft-deleted
    tag: str

    def member(self, name: str) -> Member:
        return getattr(self, name)


async def build_world() -> World:
    """Fresh users (unique emails) and tasks; nothing is cleared, so tests may share the databases."""
    suffix = uuid.uuid4().hex[:8]
    people = {}
    for name, role in (("alice", Role.MEMBER), ("bob", Role.MEMBER), ("root", Role.ADMIN)):
        user = await users.create_user(email=f"{name}-{suffix}@example.com", name=f"{name.title()} {suffix}",
                                       settings={"theme": "light"}, actor=SYSTEM)
        people[name] = Member(str(user.id), user.email, role)
    alice, bob, root = people["alice"], people["bob"], people["root"]
    tag = await tags.create_tag(name=f"tag-{suffix}", color="#123456", actor=SYSTEM)
    alices = await tasks.create_task(title="alice's", actor=alice.principal, tag_ids=[tag.id])
    bobs = await tasks.create_task(title="bob's", assignee_id=bob.id, actor=root.principal)
    roots = await tasks.create_task(title="root's", actor=root.principal, tag_ids=[tag.id])
    deleted = await tasks.create_task(title="alice's old", actor=alice.principal)
    await tasks.soft_delete_task(task_id=deleted.id, actor=alice.principal)
    return World(alice, bob, root, alices.id, bobs.id, roots.id, deleted.id, tag.id)


async def fingerprint(world: World) -> bytes:
    """Every row the world consists of, plus the audit log's size: equal fingerprints = nothing was written."""
    ids = [world.alices_task, world.bobs_task, world.roots_task, world.alices_deleted_task]
    task_rows = await sql.fetch(
        "SELECT t.*, ARRAY(SELECT tag_id::text FROM task_tags WHERE task_id = t.id ORDER BY 1) AS tag_ids "
        "FROM tasks t WHERE t.id = ANY($1::uuid[]) ORDER BY t.id",
        ids,
    )
    tag_rows = await sql.fetch("SELECT * FROM tags WHERE id = $1::uuid", world.tag)
    audit_count = await sql.fetchval("SELECT count(*) FROM audit_log")
    docs = await User.get_pymongo_collection().find(
        {"email": {"$in": [world.alice.email, world.bob.email, world.root.email]}}
    ).sort("email").to_list()
    snapshot: dict[str, Any] = {
        "tasks": [dict(r) for r in task_rows],
        "tags": [dict(r) for r in tag_rows],
        "audit": audit_count,
        "users": docs,
    }
    return orjson.dumps(snapshot, default=str, option=orjson.OPT_SORT_KEYS)
