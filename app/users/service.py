"""Users: reads, writes and the joins with tasks (users in MongoDB, task assignments in PostgreSQL).

Deleting a user spans two stores that share no transaction. `delete_user` deletes the document first and
then unassigns the user's tasks in PostgreSQL. If the process dies (or PostgreSQL fails) between the two,
those tasks keep an `assignee_id` that names no user. Readers tolerate that: `get_users_by_ids` (behind
the `users_by_id` loader) returns None for such ids, so a task's `assignee` reads as null, and
`user_stats` reports the id with `user=None`. Calling `delete_user` again for the same id finishes the
job (it unassigns even when the document is already gone), and
`app.tasks.assignments.repair_dangling_assignees()` clears every such id in batches. The opposite order
would be worse: a failure after unassigning would leave a live user who silently lost their tasks.

Every read and write goes through Beanie: `User.find`/`find_one` with its query operators, `Set`/`Unset`
updates (the one exception: `delete_user` calls pymongo's `find_one_and_delete` on Beanie's collection,
Beanie has no find-and-delete, and parses the result with the read model). Reads that only show users (lists, batches, stats) project onto the read model `UserRecord`
(`app.users.records`): a `User` document, validated and state-tracked, costs about 40 times as much to
build (measured here: 5.4 ms against 0.14 ms of CPU for 50 users). Writes and single-user reads use the
document.

Read preference (MONGODB_URL's readPreference on a replica set, app.stores.mongo): lists, batches by id and
stats (`find_users`, `get_users_by_ids` and what calls it) run inside `mongo.secondary_reads()`, so they may
use a secondary when nothing the caller must see can be missing there. Everything else reads the primary:
the user a write is about to change (`get_user` via `_require`), the email lookup (sign-in tooling, the
uniqueness a write relies on), `existing_user_ids` (a task write's check that its assignee exists, the
repair job). Every write marks its caller (`mongo.wrote_documents()`) before announcing the change.

Writes validate every input field before touching the database and report all invalid fields at once.
Updates are query-level (`$set`/`$unset` of just the changed paths in one findAndModify) and
`_update_fields` is the one place that writes them and stamps `updated_at`. On MongoDB that makes
concurrent updates of different fields of one user independent. FerretDB v1 applies an update as
read-modify-write of the whole document without isolation, so there two concurrent writes to the same
user can lose one of them (verified: 20 concurrent `$inc` on one document end at 2); single-writer use,
like the test suite's, is exact on both. Every write emits a `Change` after it succeeded.

Writes take the acting `Principal` (`actor`) and check the permission matrix before touching MongoDB:
creating and deleting users is for admins, a user's own profile and settings are theirs (and admins').
MongoDB and PostgreSQL share no transaction, so a user write's audit row is written in PostgreSQL right
after the MongoDB write succeeded; if that insert fails (or the process dies in between) the write stands
without its audit row, and the failure is logged at ERROR. Tasks unassigned by `delete_user` get their
audit rows in the same PostgreSQL transaction as the unassigning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, TypeVar

from beanie import UpdateResponse
from beanie.odm.queries.find import FindMany
from beanie.operators import GTE, LT, In, Or, RegEx, Set, Unset
from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel, TypeAdapter
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from app.audit import public as audit
from app.audit.public import Action, AuditItem, Changes, created, removed
from app.auth import permissions as can
from app.auth.principal import Principal
from app.common import changes
from app.common.changes import Change, ChangeKind, Entity
from app.common.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed, invalid
from app.common.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorPage,
    OffsetPage,
    PageResult,
    KeysetCursor,
    str_key,
    timestamp_key,
    validate_page,
)
from app.common.unset import UNSET, Maybe, is_set
from app.common.timestamps import as_utc
from app.common.ports import (
    Counts,
    assignee_ids_with_tasks_created_between,
    task_counts_by_assignee,
    unassign_user_tasks,
)
from app.users.documents import (
    Profile,
    User,
    normalize_email,
    utcnow,
    validate_avatar,
    validate_bio,
    validate_name,
    validate_settings,
    validate_timezone,
)
from app.stores import mongo, sql
from app.users.filters import SEARCH_MAX, UserFilters, UserSort, UserSortField
from app.users.records import UserId, UserRecord

log = logging.getLogger("taskboard.users")
_ENTITY = Entity.USER.value

# Input paths as clients see them in errors; they are also the documents' field paths, so a validated
# set of values is directly the `$set` of an update.
_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "email": normalize_email,
    "name": validate_name,
    "avatar": validate_avatar,
    "profile.bio": validate_bio,
    "profile.timezone": validate_timezone,
    "profile.settings": validate_settings,
}
USER_FIELDS = tuple(_VALIDATORS)
_NOT_NULL = frozenset({"email", "profile.timezone", "profile.settings"})
_SETTINGS = "profile.settings"

SettingsMode = Literal["replace", "merge"]
ReadModel = TypeVar("ReadModel", bound=BaseModel)


@dataclass(frozen=True)
class UserStats:
    """Live task counts of one user; `user` is None when the id names no user (any more)."""

    user_id: str
    user: UserRecord | None
    task_count: int
    completed_count: int
    in_progress_count: int


# ---------------------------------------------------------------------------------------------- reads


async def get_user(*, user_id: str) -> User | None:
    """The user with this id, or None (also for a string that is not an ObjectId)."""
    oid = _object_id(user_id)
    return None if oid is None else await User.find_one(User.id == oid)


async def get_users_by_ids(*, ids: Sequence[str]) -> list[UserRecord | None]:
    """Users as read-only rows in key order, None for missing or invalid ids.

    One find projected onto UserRecord (an equality for a single id, `$in` for more); nothing is sent when
    no id is valid.
    """
    oids = [_object_id(key) for key in ids]
    wanted = list({oid for oid in oids if oid is not None})
    if not wanted:
        return [None] * len(oids)
    async with mongo.secondary_reads():
        found = {record.id: record for record in await _projected(_find_ids(wanted), UserRecord)}
    return [None if oid is None else found.get(oid) for oid in oids]


async def existing_user_ids(*, ids: Iterable[str]) -> set[str]:
    """The given ids that name existing users (one query, ids only)."""
    by_oid: dict[ObjectId, list[str]] = {}
    for key in ids:
        oid = _object_id(key)
        if oid is not None:
            by_oid.setdefault(oid, []).append(key)
    if not by_oid:
        return set()
    rows = await _projected(_find_ids(list(by_oid)), UserId)
    return {key for row in rows for key in by_oid[row.id]}


async def get_user_by_email(*, email: str) -> User | None:
    """The user with this email (compared trimmed and lower-cased), or None."""
    try:
        normalized = normalize_email(email)
    except ValueError:
        return None
    return await User.find_one(User.email == normalized)


async def find_users(
    *,
    filters: UserFilters = UserFilters(),
    sort: UserSort = UserSort(),
    page: OffsetPage | CursorPage = CursorPage(),
    with_total: bool = False,
) -> PageResult[UserRecord]:
    """One page of users matching filters, in a whitelisted order with `_id` as tiebreaker."""
    async with mongo.secondary_reads():
        return await _find_users(filters=filters, sort=sort, page=page, with_total=with_total)


async def _find_users(
    *, filters: UserFilters, sort: UserSort, page: OffsetPage | CursorPage, with_total: bool
) -> PageResult[UserRecord]:
    validate_page(page)
    conditions = _conditions(filters)
    order = _Order(sort)
    if isinstance(page, OffsetPage):
        skip = (page.page - 1) * page.limit
        rows = await _scan(conditions, order, descending=order.descending, skip=skip, size=page.limit)
        items, has_next, has_previous = rows[: page.limit], len(rows) > page.limit, page.page > 1
    else:
        items, has_next, has_previous = await _keyset_page(conditions, order, page)
    total = await User.find(*conditions).count() if with_total else None
    return PageResult(
        items=items,
        cursors=[order.cursor(user) for user in items],
        has_next_page=has_next,
        has_previous_page=has_previous,
        total_count=total,
    )


async def user_stats(*, user_ids: Sequence[str] | None = None) -> list[UserStats]:
    """Live task counts per user (given ids in order, or every assignee by most tasks) plus the users.

    One grouped SQL query and one Mongo `$in`, whatever the number of users.
    """
    counts = await task_counts_by_assignee(user_ids=user_ids)
    keys = list(user_ids) if user_ids is not None else sorted(counts, key=lambda key: (-counts[key].total, key))
    users = await get_users_by_ids(ids=keys)
    stats = []
    for key, user in zip(keys, users, strict=True):
        count = counts.get(key, Counts())
        stats.append(UserStats(key, user, count.total, count.completed, count.in_progress))
    return stats


async def users_with_tasks_created_between(*, start: datetime, end: datetime) -> list[UserRecord]:
    """Existing users assigned a live task created in [start, end), by id (one SQL query, one `$in`)."""
    if as_utc(end) < as_utc(start):
        raise invalid("end", "must not be before start")
    ids = await assignee_ids_with_tasks_created_between(start=start, end=end)
    return [user for user in await get_users_by_ids(ids=ids) if user is not None]


# --------------------------------------------------------------------------------------------- writes


async def create_user(
    *,
    email: str,
    name: str | None = None,
    avatar: str | None = None,
    bio: str | None = None,
    timezone: str = "UTC",
    settings: dict[str, Any] | None = None,
    actor: Principal,
) -> User:
    """Create a user; VALIDATION_FAILED lists every invalid field, CONFLICT when the email is taken."""
    can.ensure(actor, can.can_manage_users(actor), "create users")
    values = _validated(
        {
            "email": email,
            "name": name,
            "avatar": avatar,
            "profile.bio": bio,
            "profile.timezone": timezone,
            "profile.settings": {} if settings is None else settings,
        }
    )
    user = User(
        email=values["email"],
        name=values["name"],
        avatar=values["avatar"],
        profile=Profile(bio=values["profile.bio"], timezone=values["profile.timezone"], settings=values[_SETTINGS]),
    )
    try:
        await user.insert()
    except PyMongoError as exc:
        _raise_if_duplicate_email(exc)
        raise
    await _announce(Change(Entity.USER, ChangeKind.CREATED, ids=(str(user.id),), fields=USER_FIELDS))
    await _audit(actor, Action.CREATE, str(user.id), created(_stored_values(user)))
    return user


async def update_user(
    *,
    user_id: str,
    email: Maybe[str] = UNSET,
    name: Maybe[str | None] = UNSET,
    avatar: Maybe[str | None] = UNSET,
    bio: Maybe[str | None] = UNSET,
    timezone: Maybe[str] = UNSET,
    actor: Principal,
) -> User:
    """Change the given fields (UNSET = keep, None = clear); NOT_FOUND, VALIDATION_FAILED or CONFLICT.

    Values equal to the stored ones are no change: when nothing changes, nothing is written. A call that
    gives an email records an `email_change_attempt` audit row whatever happens (see `_audit_email_attempt`).
    """
    given = {"email": email, "name": name, "avatar": avatar, "profile.bio": bio, "profile.timezone": timezone}
    if not is_set(email):
        return await _update_user(actor=actor, user_id=user_id, given=given)
    try:
        user = await _update_user(actor=actor, user_id=user_id, given=given)
    except Exception as exc:
        await _audit_email_attempt(actor, user_id, exc.code if isinstance(exc, AppError) else "ERROR")
        raise
    await _audit_email_attempt(actor, user_id, "OK")
    return user


async def _update_user(*, actor: Principal, user_id: str, given: dict[str, Any]) -> User:
    can.ensure(actor, can.can_update_user(actor, user_id), "change this user")
    values = _validated({path: value for path, value in given.items() if is_set(value)})
    current = await _require(user_id)
    stored = _stored_values(current)
    changed = {path: value for path, value in values.items() if stored[path] != value}
    if not changed:
        return current
    user = await _write(current, set_=changed)
    await _audit(
        actor, Action.UPDATE, user_id, {path: {"old": stored[path], "new": value} for path, value in changed.items()}
    )
    return user


async def update_settings(
    *, user_id: str, settings: dict[str, Any], mode: SettingsMode, actor: Principal
) -> User:
    """Write the user's free-form settings; NOT_FOUND or VALIDATION_FAILED.

    `replace`: settings become exactly the given object (null values are stored as null).
    `merge`: a shallow merge of top-level keys: each given key is set to its new value (nested objects
    are replaced, not merged), and a key given as null is removed. Other keys stay as they are (on
    MongoDB even when another request merges other keys at the same time; see the module docstring for
    FerretDB). The merged result must still fit the size limits.
    """
    can.ensure(actor, can.can_update_user(actor, user_id), "change this user's settings")
    if mode not in ("replace", "merge"):
        raise invalid("mode", "must be 'replace' or 'merge'")
    patch = _validated({_SETTINGS: settings})[_SETTINGS]
    current = await _require(user_id)
    old = current.profile.settings
    if mode == "replace":
        if patch == old:
            return current
        user = await _write(current, set_={_SETTINGS: patch})
        await _audit(actor, Action.UPDATE_SETTINGS, user_id, {_SETTINGS: {"old": old, "new": patch}})
        return user
    merged = {**old, **{key: value for key, value in patch.items() if value is not None}}
    for key in [key for key, value in patch.items() if value is None]:
        merged.pop(key, None)
    _validated({_SETTINGS: merged})
    if merged == old:
        return current
    # Keys were checked (no '.', no leading '$'), so each is one literal field under profile.settings.
    set_ = {f"{_SETTINGS}.{key}": value for key, value in patch.items() if value is not None}
    unset = [f"{_SETTINGS}.{key}" for key, value in patch.items() if value is None and key in old]
    user = await _write(current, set_=set_, unset=unset, fields=(_SETTINGS,))
    await _audit(actor, Action.UPDATE_SETTINGS, user_id, {_SETTINGS: {"old": old, "new": user.profile.settings}})
    return user


async def delete_user(*, user_id: str, actor: Principal) -> bool:
    """Delete the user, then unassign their tasks; False when there was no such user.

    The unassigning runs even when the document is already gone, so repeating a delete that died half-way
    completes it (see the module docstring).
    """
    can.ensure(actor, can.can_manage_users(actor), "delete users")
    oid = _object_id(user_id)
    if oid is None:
        return False
    # Beanie has no find-and-delete: pymongo's, on Beanie's collection, with the result parsed as a read model.
    document = await User.get_pymongo_collection().find_one_and_delete({"_id": oid})
    if document is not None:
        await _announce(Change(Entity.USER, ChangeKind.DELETED, ids=(str(oid),)))
        await _audit(actor, Action.DELETE, str(oid), removed(_stored_values(UserRecord.model_validate(document))))
    async with sql.transaction() as conn:
        task_ids = await unassign_user_tasks(user_id=str(oid))
        await audit.record_many(conn, actor=actor, items=[
            AuditItem(Action.UPDATE, Entity.TASK.value, task_id, {"assignee_id": {"old": str(oid), "new": None}})
            for task_id in task_ids
        ])
        if task_ids:
            await changes.emit(Change(Entity.TASK, ChangeKind.UPDATED, ids=tuple(task_ids), fields=("assignee_id",)))
    return document is not None


# ------------------------------------------------------------------------------------------- helpers


async def _announce(change: Change) -> None:
    """After a MongoDB write: its caller reads the primary for a while, then everyone hears of the change."""
    await mongo.wrote_documents()
    await changes.emit(change)


def _find_ids(oids: list[ObjectId]) -> FindMany[User]:
    """One find of these ids (an equality for a single id). MongoDB answers both through the `_id` index, and
    so does the FerretDB that scripts/services builds (README: Services); stock FerretDB v1 scans the collection
    for both."""
    return User.find(User.id == oids[0]) if len(oids) == 1 else User.find(In(User.id, oids))


async def _projected(query: FindMany[User], model: type[ReadModel]) -> list[ReadModel]:
    """The query's documents projected onto a read model: Beanie builds the find (its filter, and the
    projection from the model's fields); pydantic validates the rows in one call.

    Not `.project(model).to_list()`: Beanie's per-row parse probes the model with hasattr calls that miss
    (slow on pydantic classes), about 6 us a row, more than the validation itself (measured on 50 users).
    """
    cursor = await query.project(model).get_cursor()
    return _rows_of(model).validate_python(await cursor.to_list())


@cache
def _rows_of(model: type[ReadModel]) -> TypeAdapter[list[ReadModel]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _object_id(value: object) -> ObjectId | None:
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and len(value) == 24:
        try:
            return ObjectId(value)  # one parse (is_valid then ObjectId would parse twice)
        except InvalidId:
            return None
    return None


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    """The cleaned values, or VALIDATION_FAILED listing every invalid one (nothing is written)."""
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    for path, value in values.items():
        if value is None and path in _NOT_NULL:
            errors.append(FieldError(path, "must not be null"))
            continue
        try:
            cleaned[path] = _VALIDATORS[path](value)
        except (ValueError, TypeError) as exc:
            errors.append(FieldError(path, str(exc)))
    if errors:
        raise ValidationFailed(errors)
    return cleaned


async def _audit(actor: Principal, action: Action, user_id: str | None, changed: Changes) -> None:
    """The audit row of a MongoDB write, in PostgreSQL right after it (no shared transaction: see the docstring)."""
    try:
        async with sql.transaction() as conn:
            await audit.record(conn, actor=actor, action=action, entity=_ENTITY, entity_id=user_id, changes=changed)
    except Exception:  # noqa: BLE001 - the user write already happened; losing its audit row must be loud, not fatal
        log.exception("audit row lost: %s of user %s by %s", action.value, user_id, actor.actor_id)


async def _audit_email_attempt(actor: Principal, user_id: str, outcome: str) -> None:
    """One row per try to change an email: who tried, on which user, and the outcome code.

    The address tried is never recorded (a refused one may be someone else's); a change that went through
    also has its `update` row with the old and new address. Tries are bounded by their surcharge
    (app.users.surcharges): one refused by the rate limit never runs, so it leaves no row here."""
    oid = _object_id(user_id)
    await _audit(actor, Action.EMAIL_CHANGE_ATTEMPT, str(oid) if oid is not None else None,
                 {"outcome": {"old": None, "new": outcome}})


def _stored_values(user: User | UserRecord) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.name,
        "avatar": user.avatar,
        "profile.bio": user.profile.bio,
        "profile.timezone": user.profile.timezone,
        "profile.settings": user.profile.settings,
    }


async def _require(user_id: str) -> User:
    user = await get_user(user_id=user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id!r}", extensions={"id": user_id})
    return user


async def _write(
    current: User, *, set_: dict[str, Any], unset: Sequence[str] = (), fields: Sequence[str] | None = None
) -> User:
    """Apply one query-level update and announce it; `fields` defaults to the `$set` paths."""
    user = await _update_fields(current.id, set_=set_, unset=unset)
    if user is None:  # deleted since it was read
        raise NotFound(f"no user with id {str(current.id)!r}", extensions={"id": str(current.id)})
    changed = tuple(fields if fields is not None else set_)
    await _announce(Change(Entity.USER, ChangeKind.UPDATED, ids=(str(user.id),), fields=changed))
    return user


async def _update_fields(oid: ObjectId, *, set_: dict[str, Any], unset: Sequence[str] = ()) -> User | None:
    """The one query-level update of a user: `$set`/`$unset` plus `updated_at`, returning the new document.

    Beanie's before_event hooks do not run for query-level updates, so `updated_at` is stamped here.
    """
    operators = [Set({**set_, "updated_at": utcnow()})]
    if unset:
        operators.append(Unset({path: "" for path in unset}))
    try:
        return await User.find_one(User.id == oid).update(*operators, response_type=UpdateResponse.NEW_DOCUMENT)
    except PyMongoError as exc:
        _raise_if_duplicate_email(exc)
        raise


def _raise_if_duplicate_email(exc: PyMongoError) -> None:
    """Turn a unique-index violation (email is the only unique field besides _id) into CONFLICT."""
    # FerretDB v1.24's SQLite backend reports the violation on update/findAndModify as InternalError
    # (code 1) carrying SQLite's message instead of E11000 (inserts are right); MongoDB always says E11000.
    duplicate = isinstance(exc, DuplicateKeyError) or (
        isinstance(exc, OperationFailure) and "UNIQUE constraint failed" in str(exc)
    )
    if duplicate:
        raise Conflict("a user with this email already exists", extensions={"field": "email"}) from None


def _conditions(filters: UserFilters) -> list[Any]:
    """The filters as Beanie query expressions (all must hold; none: every user)."""
    conditions: list[Any] = []
    if filters.search is not None and filters.search.strip():
        search = filters.search.strip()
        if len(search) > SEARCH_MAX:
            raise invalid("search", f"must be at most {SEARCH_MAX} characters")
        # The text is literal: re.escape makes regex syntax in it match itself (also on FerretDB's Go RE2).
        pattern = re.escape(search)
        fields = (User.name, User.email) if filters.search_emails else (User.name,)
        conditions.append(Or(*(RegEx(field, pattern, options="i") for field in fields)))
    if filters.created_after is not None:
        conditions.append(GTE(User.created_at, as_utc(filters.created_after)))
    if filters.created_before is not None:
        conditions.append(LT(User.created_at, as_utc(filters.created_before)))
    if filters.timezone is not None:
        conditions.append(User.profile.timezone == filters.timezone)
    if filters.ids is not None:
        conditions.append(In(User.id, list({oid for oid in map(_object_id, filters.ids) if oid is not None})))
    return conditions


def _cursor_id(raw: str) -> ObjectId:
    oid = _object_id(raw)
    if oid is None:
        raise ValueError("bad id")
    return oid


class _Order:
    """A sort order: its Mongo sort spec, its cursors, and the filter for rows beyond a cursor."""

    _FIELDS = {UserSortField.CREATED_AT: "created_at", UserSortField.NAME: "name", UserSortField.EMAIL: "email"}
    _NULLABLE = frozenset({"name"})

    def __init__(self, sort: UserSort) -> None:
        self.field = self._FIELDS[sort.field]
        self.descending = sort.descending
        # Cursors are tied to the order they were made for.
        self.cursors: KeysetCursor[ObjectId] = KeysetCursor(
            f"{sort.field.value}:{'DESC' if self.descending else 'ASC'}",
            parse_value=timestamp_key if self.field == "created_at" else str_key,
            parse_id=_cursor_id,
            nullable=self.field in self._NULLABLE,
        )

    def spec(self, *, descending: bool) -> list[tuple[str, int]]:
        direction = DESCENDING if descending else ASCENDING
        return [(self.field, direction), ("_id", direction)]

    def cursor(self, user: UserRecord) -> str:
        return self.cursors.encode(getattr(user, self.field), user.id)

    def decode(self, cursor: str, *, field_name: str) -> tuple[Any, ObjectId]:
        return self.cursors.decode(cursor, field_name=field_name)

    def beyond(self, value: Any, oid: ObjectId, *, ascending: bool) -> dict[str, Any]:
        """Rows strictly after (value, oid) when scanning in the given direction."""
        op = "$gt" if ascending else "$lt"
        tie = {self.field: value, "_id": {op: oid}}
        if value is None:
            # null sorts before every string: ascending, every named row comes after it; descending, none.
            return {"$or": [tie, {self.field: {"$ne": None}}]} if ascending else tie
        branches: list[dict[str, Any]] = [{self.field: {op: value}}, tie]
        if not ascending and self.field in self._NULLABLE:
            # Comparisons with a string never match null, yet descending the nulls come last.
            branches.append({self.field: None})
        return {"$or": branches}


async def _scan(
    conditions: list[Any], order: _Order, *, descending: bool, skip: int, size: int
) -> list[UserRecord]:
    """Up to size + 1 rows (the extra one tells whether more follow)."""
    find = User.find(*conditions).sort(order.spec(descending=descending))
    if skip:
        find = find.skip(skip)
    return await _projected(find.limit(size + 1), UserRecord)


async def _keyset_page(
    conditions: list[Any], order: _Order, page: CursorPage
) -> tuple[list[UserRecord], bool, bool]:
    """Items, has_next_page, has_previous_page of a first/after or last/before page."""
    conditions = list(conditions)
    if page.after is not None:
        value, oid = order.decode(page.after, field_name="after")
        conditions.append(order.beyond(value, oid, ascending=not order.descending))
    if page.before is not None:
        value, oid = order.decode(page.before, field_name="before")
        conditions.append(order.beyond(value, oid, ascending=order.descending))
    backward = page.last is not None
    size = page.last if page.last is not None else page.first if page.first is not None else DEFAULT_PAGE_SIZE
    # Backward pages scan the reverse order from the cursor, then flip the rows they got.
    rows = await _scan(conditions, order, descending=order.descending != backward, skip=0, size=size)
    more = len(rows) > size
    items = rows[:size]
    if backward:
        items.reverse()
        return items, page.before is not None, more
    return items, more, page.after is not None
