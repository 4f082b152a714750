"""UNSET: "not given" in partial updates, distinct from None ("clear this field")."""

from __future__ import annotations

from enum import Enum
from typing import Final, TypeVar

T = TypeVar("T")


class _Unset(Enum):
    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
Maybe = T | _Unset  # type: ignore[valid-type]  # usage: Maybe[str] = UNSET


def is_set(value: object) -> bool:
    """True when the caller gave a value (None included)."""
    return value is not UNSET
