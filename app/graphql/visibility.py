"""Fields whose value depends on who asks, declared once on the field: `VisibleTo(rule, subject=...)`.

A field that shows its value only to some callers (a user's email: the user and admins) carries a
`VisibleTo` field extension naming the permission rule (app.auth.permissions) and what the rule is about
(the user's id). Executed for one caller, the extension answers the rule: the field's value, or null (or the
declared error) when the rule says no, exactly as if the resolver had checked it itself.

Executed once for many callers (a subscription event shared by every subscriber of a document,
app.graphql.shared_execution), the context carries a `Visibility` record instead: the field resolves as the
most privileged caller would see it, and the extension notes where it stood (its response path and field
nodes), which rule guards it and the rule's subject. `mask()` then turns that one result into each
caller's: every noted field whose rule denies the caller is nulled (with the declared error, if any), and
errors inside it go, because an execution as that caller would not have run below it. A caller whom no rule
denies gets the shared result itself. A declared denial error is appended after the shared result's errors
(an execution as the caller would have raised it among them, in resolution order).

Only nullable fields may be guarded (the extension refuses others when the schema is built): a denial then
never propagates null to a parent, so nulling the one field is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import ExecutionResult, FieldNode, GraphQLError, located_error
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import StrawberryOptional
from strawberry.types.field import StrawberryField

from app.auth.principal import Principal
from app.graphql.strawberry_adapter import raw_info

Rule = Callable[[Principal, Any], bool]
PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Guard:
    """One guarded field as a shared execution resolved it."""

    path: PathKey
    field_nodes: Sequence[FieldNode]
    extension: VisibleTo
    subject: Any


@dataclass
class Visibility:
    """What one shared execution resolved behind a rule (see the module docstring)."""

    guards: list[Guard] = field(default_factory=list)


class VisibleTo(FieldExtension):
    """The field's value only for callers `rule(principal, subject(source))` allows; null for the others, or
    `denied()` raised as the field's error when given."""

    def __init__(self, rule: Rule, *, subject: Callable[[Any], Any], denied: Callable[[], Exception] | None = None):
        self.rule = rule
        self.subject = subject
        self.denied = denied

    def apply(self, field: StrawberryField) -> None:
        if not isinstance(field.type, StrawberryOptional):
            raise TypeError(f"VisibleTo guards nullable fields only; {field.python_name} is not nullable")

    def _allowed(self, source: Any, info: Info) -> bool:
        """Whether to resolve the field (noting it when the execution is shared); raises the declared denial."""
        context = info.context
        record: Visibility | None = getattr(context, "visibility", None)
        if record is not None:
            raw = raw_info(info)
            record.guards.append(Guard(tuple(raw.path.as_list()), raw.field_nodes, self, self.subject(source)))
            return True
        if self.rule(context.principal, self.subject(source)):
            return True
        if self.denied is not None:
            raise self.denied()
        return False

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs) if self._allowed(source, info) else None

    async def resolve_async(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        if not self._allowed(source, info):
            return None
        value = next_(source, info, **kwargs)
        return await value if isawaitable(value) else value


def denied_positions(guards: Sequence[Guard], principal: Principal) -> tuple[int, ...]:
    """The positions in `guards` of the guards whose rule denies principal."""
    return tuple(position for position, guard in enumerate(guards) if not guard.extension.rule(principal, guard.subject))


def _inside(path: Sequence[str | int] | None, prefix: PathKey) -> bool:
    return path is not None and len(path) >= len(prefix) and tuple(path[: len(prefix)]) == prefix


def mask(result: ExecutionResult, denied: Sequence[Guard]) -> ExecutionResult:
    """The shared result as a caller denied `denied` sees it (the result itself when nothing is denied).

    Containers on the way to a masked field are copied; everything else is shared with the original."""
    if not denied or result.data is None:
        return result
    data = dict(result.data)
    copied = {id(data)}
    errors = list(result.errors or ())
    added: list[GraphQLError] = []
    for guard in denied:
        node: Any = data
        for step in guard.path[:-1]:
            child = node[step]
            if child is None:  # nulled by an error above the field: nothing to mask
                break
            if id(child) not in copied:
                child = dict(child) if isinstance(child, dict) else list(child)
                copied.add(id(child))
                node[step] = child
            node = child
        else:
            if guard.extension.denied is None and node[guard.path[-1]] is None and not _inside_any(errors, guard.path):
                continue  # null for everyone and nothing to say
            node[guard.path[-1]] = None
            errors = [error for error in errors if not _inside(error.path, guard.path)]
            if guard.extension.denied is not None:
                added.append(located_error(guard.extension.denied(), guard.field_nodes, list(guard.path)))
    all_errors = errors + added
    return ExecutionResult(data=data, errors=all_errors or None, extensions=result.extensions)


def _inside_any(errors: Sequence[GraphQLError], path: PathKey) -> bool:
    return any(_inside(error.path, path) for error in errors)
