"""add-default-tags: the five tags every board starts with; existing tags (any case) are left alone."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Lower
from tortoise.queryset import QuerySet

from app.common.changes import Change, ChangeKind, Entity, emit
from app.common.ids import uuid7
from app.data_migrations.registry import DataMigration, Outcome
from app.stores import postgres, sql
from app.tags.models import Tag

# The one source of truth for the default tags (the seeder applies them through ensure_default_tags).
DEFAULT_TAGS: tuple[tuple[str, str], ...] = (
    ("urgent", "#DC2626"),
    ("feature", "#2563EB"),
    ("bug", "#EA580C"),
    ("enhancement", "#16A34A"),
    ("documentation", "#7C3AED"),
)


async def _missing(db: BaseDBAsyncClient) -> list[tuple[str, str]]:
    """The default tags whose name (case-insensitively) no tag has yet."""
    present = set(await default_tags(db).values_list("name_key", flat=True))
    return [(name, color) for name, color in DEFAULT_TAGS if name not in present]


def default_tags(db: BaseDBAsyncClient) -> QuerySet[Tag]:
    """The tags named like a default tag (any letter case), each annotated with `name_key`, its lower-case name."""
    return Tag.annotate(name_key=Lower("name")).filter(name_key__in=[name for name, _ in DEFAULT_TAGS]).using_db(db)


async def ensure_default_tags(*, dry_run: bool = False) -> Outcome:
    """Insert the default tags that are missing; a concurrent insert of the same name is not an error.

    Runs in the caller's transaction when there is one (the data-migration runner's, the seeder's).
    """
    async with sql.transaction() as conn:
        db = postgres.client(conn)
        missing = await _missing(db)
        names = ", ".join(name for name, _ in missing)
        if dry_run:
            return Outcome(len(missing), f"would add {len(missing)} tag(s)" + (f": {names}" if missing else ""))
        if not missing:
            return Outcome(0, "all default tags present")
        new = [Tag(id=uuid7(), name=name, color=color) for name, color in missing]
        # ON CONFLICT DO NOTHING: a name taken meanwhile (any case) keeps its tag; read back which rows went in.
        await Tag.bulk_create(new, ignore_conflicts=True, using_db=db)
        added = await Tag.filter(id__in=[tag.id for tag in new]).using_db(db).values_list("id", flat=True)
        if added:
            await emit(Change(Entity.TAG, ChangeKind.CREATED, ids=tuple(str(tag_id) for tag_id in added)))
    return Outcome(len(added), f"added {len(added)} tag(s): {names}")


MIGRATION = DataMigration(
    name="add-default-tags",
    description="Create the default tags (urgent, feature, bug, enhancement, documentation); keep existing ones.",
    apply=ensure_default_tags,
)
