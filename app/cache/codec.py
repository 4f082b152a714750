"""How values travel into and out of cache entries (the entry itself is orjson).

A codec's `dump` makes a JSON-compatible value and `load` rebuilds the original from it; a hit must
return what the loader returned. None never reaches a codec: it is cached as itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


@dataclass(frozen=True)
class Codec(Generic[T]):
    dump: Callable[[T], Any]
    load: Callable[[Any], T]
    # The value is JSON text already: a recorded entry (Cache.get_recorded) stores it and hands it back as these
    # bytes, without encoding or decoding it (entries of get/get_many embed their value: JSON values only).
    raw: bool = False


def _same(value: Any) -> Any:
    return value


# Plain JSON values (dicts, lists, str, numbers, bools) cached as they are.
JSON: Codec[Any] = Codec(_same, _same)


def typed(tp: Any) -> Codec[Any]:
    """A codec for any type pydantic validates: dataclasses (TaskRow), models, lists of them, PageResult[...]."""
    adapter = TypeAdapter(tp)
    return Codec(lambda value: adapter.dump_python(value, mode="json"), adapter.validate_python)


# JSON text (bytes) kept as it is in a recorded entry: the whole-response cache's entries.
RAW_JSON: Codec[bytes] = Codec(_same, _same, raw=True)
