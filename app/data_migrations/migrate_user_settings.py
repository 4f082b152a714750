"""migrate-user-settings: give every user without a profile the default one (timezone UTC, settings {})."""

from __future__ import annotations

from typing import Any

from beanie.operators import Exists, In, Or, Set

from app.common.changes import Change, ChangeKind, Entity, emit
from app.data_migrations.registry import DataMigration, Outcome
from app.users.documents import Profile, User, utcnow
from app.users.records import UserId

BATCH_SIZE = 1000


def without_profile() -> Any:
    """Users lacking a profile: `null` and a missing field both mean none (spelled out because servers differ
    on `{field: null}`). Built per call: Beanie sets the `User.<field>` expressions in init_beanie."""
    return Or(User.profile == None, Exists(User.profile, False))  # noqa: E711 - a query, not a comparison


async def give_default_profiles(*, dry_run: bool, batch_size: int = BATCH_SIZE) -> Outcome:
    """Set the default profile on users that lack one, batch_size users per update (no transaction: idempotent)."""
    if dry_run:
        count = await User.find(without_profile()).count()
        return Outcome(count, f"would give {count} user(s) the default profile")
    default = Profile().model_dump()
    updated = 0
    seen: set[Any] = set()
    while True:
        ids = [row.id for row in await User.find(without_profile()).project(UserId).limit(batch_size).to_list()]
        if not ids:
            break
        if seen.intersection(ids):  # an update that did not stick would loop forever
            raise RuntimeError("users still lack a profile after being updated")
        seen.update(ids)
        # Filter again: a user who got a profile since the find keeps it. A query-level update: Beanie's
        # hooks do not stamp updated_at here, so the update does.
        result = await User.find(In(User.id, ids), without_profile()).update_many(
            Set({User.profile: default, User.updated_at: utcnow()})
        )
        updated += result.modified_count
    if updated:
        await emit(Change(Entity.USER, ChangeKind.UPDATED, ids=()))
    return Outcome(updated, f"gave {updated} user(s) the default profile")


MIGRATION = DataMigration(
    name="migrate-user-settings",
    description="Give every user without a profile the default one (timezone UTC, settings {}), in batches.",
    apply=give_default_profiles,
)
