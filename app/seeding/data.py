"""Deterministic fake data: one seed always gives the same users, tasks and tag links, row for row.

Nothing here reads the clock or the database: timestamps are offsets from BASE_TIME and ids are built
from seeded random bits, so two runs with the same seed can be compared whole.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from faker import Faker

from app.tasks.models import Priority, TaskStatus

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
USER_HISTORY = timedelta(days=540)
TASK_HISTORY = timedelta(days=365)
MAX_EDIT_DELAY = timedelta(days=30)

# Shares and weights that make the demo board look lived-in.
STATUS_WEIGHTS = {TaskStatus.TODO: 35, TaskStatus.IN_PROGRESS: 25, TaskStatus.COMPLETED: 30, TaskStatus.CANCELLED: 10}
PRIORITY_WEIGHTS = {Priority.LOW: 30, Priority.MEDIUM: 50, Priority.HIGH: 20}
TAG_COUNT_WEIGHTS = (25, 40, 25, 10)  # tasks with 0, 1, 2, 3 tags
UNASSIGNED_SHARE = 0.15
DUE_DATE_SHARE = 0.7
DESCRIPTION_SHARE = 0.6
DELETED_SHARE = 0.02
BIO_SHARE = 0.5
AVATAR_SHARE = 0.7

TASK_COLUMNS = (
    "id", "title", "description", "status", "priority", "due_date", "assignee_id", "created_at", "updated_at",
    "deleted_at",
)
TASK_TAG_COLUMNS = ("task_id", "tag_id")

VERBS = (
    "Fix", "Add", "Update", "Refactor", "Document", "Review", "Test", "Investigate", "Implement", "Remove",
    "Migrate", "Optimize", "Design", "Deploy", "Clean up", "Audit", "Speed up", "Translate",
)
SUBJECTS = (
    "login page", "signup flow", "password reset", "billing service", "invoice export", "search index",
    "task list", "dashboard", "notification emails", "user profile page", "API rate limits", "mobile layout",
    "dark mode", "CSV import", "audit log", "webhook retries", "onboarding checklist", "permissions model",
    "caching layer", "database backups", "error pages", "release notes", "CI pipeline", "GraphQL schema",
    "file uploads", "calendar sync", "team settings", "tag filters", "due date reminders", "activity feed",
    "SSO integration", "admin console", "Slack integration", "session timeout", "weekly report",
)
QUALIFIERS = (
    "", "", "", "", " for admins", " on Safari", " in staging", " before the release", " for large accounts",
    " (follow-up)", " after the v2 migration", " on Android", " for EU customers", " in the new editor",
)
TIMEZONES = (
    "UTC", "Europe/Berlin", "Europe/London", "Europe/Paris", "America/New_York", "America/Chicago",
    "America/Los_Angeles", "America/Sao_Paulo", "Asia/Tokyo", "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney",
)
THEMES = ("light", "dark", "system")
LANGUAGES = ("en", "de", "fr", "es", "ja", "pt")

_NOT_EMAIL_LOCAL = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class TaskBatch:
    """Rows ready for COPY: `tasks` in TASK_COLUMNS order, `links` as (task_id, tag_id)."""

    tasks: list[tuple[Any, ...]]
    links: list[tuple[uuid.UUID, uuid.UUID]]


def _streams(seed: int, part: str) -> tuple[random.Random, Faker]:
    # Separate streams per part: the same seed gives the same users whatever the number of tasks.
    rng = random.Random(f"taskboard:{seed}:{part}")
    fake = Faker("en_US")
    fake.seed_instance(f"taskboard:{seed}:{part}:faker")
    return rng, fake


def _before(rng: random.Random, moment: datetime, span: timedelta) -> datetime:
    """A ms-precise instant up to span before moment (BSON keeps ms, so values round-trip exactly)."""
    return moment - timedelta(milliseconds=rng.randrange(int(span.total_seconds() * 1000)))


def _after(rng: random.Random, moment: datetime, limit: datetime) -> datetime:
    """A ms-precise instant between moment and limit (capped at MAX_EDIT_DELAY)."""
    span_ms = int(min(limit - moment, MAX_EDIT_DELAY).total_seconds() * 1000)
    return moment + timedelta(milliseconds=rng.randrange(span_ms + 1))


def _uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 for moment whose other 74 bits come from rng: time-ordered like app ids, but reproducible."""
    ms = int(moment.timestamp() * 1000)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return uuid.UUID(int=value)


def _object_id_at(moment: datetime, rng: random.Random) -> ObjectId:
    """An ObjectId stamped with moment (as MongoDB's are) and 8 seeded bytes."""
    return ObjectId(int(moment.timestamp()).to_bytes(4, "big") + rng.randbytes(8))


def _unique_email(first: str, last: str, domain: str, taken: set[str]) -> str:
    local = ".".join(_NOT_EMAIL_LOCAL.sub("", part.lower()) or "user" for part in (first, last))
    email = f"{local}@{domain}"
    suffix = 1
    while email in taken:
        suffix += 1
        email = f"{local}{suffix}@{domain}"
    taken.add(email)
    return email


def users(*, count: int, seed: int) -> list[dict[str, Any]]:
    """count user documents (with profiles) as stored in the `users` collection, `_id` included."""
    rng, fake = _streams(seed, "users")
    taken: set[str] = set()
    documents = []
    for _ in range(count):
        created_at = _before(rng, BASE_TIME, USER_HISTORY)
        first, last = fake.first_name(), fake.last_name()
        user_id = _object_id_at(created_at, rng)
        documents.append(
            {
                "_id": user_id,
                "email": _unique_email(first, last, fake.safe_domain_name(), taken),
                "name": f"{first} {last}",
                "avatar": f"https://avatars.example.com/{user_id}.png" if rng.random() < AVATAR_SHARE else None,
                "profile": {
                    "bio": fake.sentence(nb_words=10) if rng.random() < BIO_SHARE else None,
                    "timezone": rng.choice(TIMEZONES),
                    "settings": {
                        "theme": rng.choice(THEMES),
                        "language": rng.choice(LANGUAGES),
                        "notifications": {"email": rng.random() < 0.8, "push": rng.random() < 0.5},
                    },
                },
                "created_at": created_at,
                "updated_at": _after(rng, created_at, BASE_TIME),
            }
        )
    return documents


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def task_batches(
    *, count: int, seed: int, assignee_ids: Sequence[str], tag_ids: Sequence[uuid.UUID], batch_size: int = 5000
) -> Iterator[TaskBatch]:
    """count tasks with their tag links, batch_size tasks per batch (the rows do not depend on batch_size)."""
    rng, fake = _streams(seed, "tasks")
    tag_counts = range(len(TAG_COUNT_WEIGHTS))
    tag_pool = list(tag_ids)
    tasks: list[tuple[Any, ...]] = []
    links: list[tuple[uuid.UUID, uuid.UUID]] = []
    for number in range(1, count + 1):
        created_at = _before(rng, BASE_TIME, TASK_HISTORY)
        task_id = _uuid7_at(created_at, rng)
        updated_at = _after(rng, created_at, BASE_TIME)
        title = f"{rng.choice(VERBS)} {rng.choice(SUBJECTS)}{rng.choice(QUALIFIERS)}"
        description = fake.paragraph(nb_sentences=rng.randint(1, 4)) if rng.random() < DESCRIPTION_SHARE else None
        due_date = None
        if rng.random() < DUE_DATE_SHARE:
            due_date = (created_at + timedelta(days=rng.randint(1, 60))).replace(
                hour=17, minute=0, second=0, microsecond=0
            )
        assignee_id = None
        if assignee_ids and rng.random() >= UNASSIGNED_SHARE:
            # Squaring skews towards the first users: a few people carry much of the work, as on real teams.
            assignee_id = assignee_ids[int(len(assignee_ids) * rng.random() ** 2)]
        deleted_at = updated_at if rng.random() < DELETED_SHARE else None
        status = _weighted(rng, STATUS_WEIGHTS)
        priority = _weighted(rng, PRIORITY_WEIGHTS)
        tasks.append(
            (task_id, title, description, status.value, int(priority), due_date, assignee_id, created_at, updated_at,
             deleted_at)
        )
        tag_count = min(rng.choices(tag_counts, weights=TAG_COUNT_WEIGHTS)[0], len(tag_pool))
        links.extend((task_id, tag_id) for tag_id in rng.sample(tag_pool, tag_count))
        if number % batch_size == 0 or number == count:
            yield TaskBatch(tasks, links)
            tasks, links = [], []
