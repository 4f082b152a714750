"""add-default-tags: the five tags every board starts with; existing tags (any case) are left alone."""

from __future__ import annotations

from app.common.changes import Change, ChangeKind, Entity, emit
from app.common.ids import uuid7
from app.data_migrations.registry import DataMigration, Outcome
from app.stores import sql

# The one source of truth for the default tags (the seeder applies them through ensure_default_tags).
DEFAULT_TAGS: tuple[tuple[str, str], ...] = (
    ("urgent", "#DC2626"),
    ("feature", "#2563EB"),
    ("bug", "#EA580C"),
    ("enhancement", "#16A34A"),
    ("documentation", "#7C3AED"),
)


async def missing_default_tags() -> list[tuple[str, str]]:
    """The default tags whose name (case-insensitively) no tag has yet."""
    rows = await sql.fetch(
        "SELECT lower(name) AS name FROM tags WHERE lower(name) = ANY($1::text[])",
        [name for name, _ in DEFAULT_TAGS],
    )
    present = {row["name"] for row in rows}
    return [(name, color) for name, color in DEFAULT_TAGS if name not in present]


async def ensure_default_tags(*, dry_run: bool = False) -> Outcome:
    """Insert the default tags that are missing; a concurrent insert of the same name is not an error."""
    missing = await missing_default_tags()
    names = ", ".join(name for name, _ in missing)
    if dry_run:
        return Outcome(len(missing), f"would add {len(missing)} tag(s)" + (f": {names}" if missing else ""))
    if not missing:
        return Outcome(0, "all default tags present")
    rows = await sql.fetch(
        "INSERT INTO tags (id, name, color) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) "
        "ON CONFLICT DO NOTHING RETURNING id",
        [uuid7() for _ in missing],
        [name for name, _ in missing],
        [color for _, color in missing],
    )
    if rows:
        await emit(Change(Entity.TAG, ChangeKind.CREATED, ids=tuple(str(row["id"]) for row in rows)))
    return Outcome(len(rows), f"added {len(rows)} tag(s): {names}")


MIGRATION = DataMigration(
    name="add-default-tags",
    description="Create the default tags (urgent, feature, bug, enhancement, documentation); keep existing ones.",
    apply=ensure_default_tags,
)
