"""migrate-user-settings: give every user without a profile the default one (timezone UTC, settings {})."""

from __future__ import annotations

from typing import Any

from app.common.changes import Change, ChangeKind, Entity, emit
from app.data_migrations.registry import DataMigration, Outcome
from app.stores import mongo
from app.users.documents import Profile, User, utcnow

BATCH_SIZE = 1000
# `null` and a missing field both mean "no profile"; spelled out because servers differ on `{field: null}`.
WITHOUT_PROFILE: dict[str, Any] = {"$or": [{"profile": None}, {"profile": {"$exists": False}}]}


async def give_default_profiles(*, dry_run: bool, batch_size: int = BATCH_SIZE) -> Outcome:
    """Set the default profile on users that lack one, batch_size users per update (no transaction: idempotent)."""
    users = mongo.database()[User.get_settings().name]
    if dry_run:
        count = await users.count_documents(WITHOUT_PROFILE)
        return Outcome(count, f"would give {count} user(s) the default profile")
    default = Profile().model_dump()
    updated = 0
    seen: set[Any] = set()
    while True:
        ids = [doc["_id"] async for doc in users.find(WITHOUT_PROFILE, {"_id": 1}).limit(batch_size)]
        if not ids:
            break
        if seen.intersection(ids):  # an update that did not stick would loop forever
            raise RuntimeError("users still lack a profile after being updated")
        seen.update(ids)
        # Filter again: a user who got a profile since the find keeps it.
        result = await users.update_many(
            {"$and": [{"_id": {"$in": ids}}, WITHOUT_PROFILE]},
            {"$set": {"profile": default, "updated_at": utcnow()}},
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
