"""The per-request loader registry: one DataLoader per loader spec, built on first use, never shared.

A domain declares each relation it serves as a `LoaderSpec` in its own loaders.py (a name and a batch
function returning one result per key, in key order); resolvers ask for it by the spec object:

    user = await info.context.loaders.get(USERS_BY_ID).load(user_id)

The registry knows no domain. It builds a spec's DataLoader the first time a request (or a subscription
event) asks for it, with the batch-size metric and, inside a traced operation, one span per batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from strawberry.dataloader import DataLoader

from app import tracing
from app.graphql.tracing import loader_batch_span
from app.metrics import LOADER_BATCH

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, eq=False)
class LoaderSpec(Generic[K, V]):
    """One relation a domain serves, named `<target>_by_<key>`; `batch` answers a batch of keys in key order."""

    name: str
    batch: Callable[[Sequence[K]], Awaitable[Sequence[V]]]


class Loaders:
    """The DataLoaders of one request (or one subscription event), by spec; empty until asked."""

    __slots__ = ("_built",)

    def __init__(self) -> None:
        self._built: dict[LoaderSpec[Any, Any], DataLoader[Any, Any]] = {}

    def get(self, spec: LoaderSpec[K, V]) -> DataLoader[K, V]:
        """The spec's DataLoader for this request, built on first use."""
        loader = self._built.get(spec)
        if loader is None:
            loader = self._built[spec] = _observed(spec)
        return loader


def _observed(spec: LoaderSpec[Any, Any]) -> DataLoader[Any, Any]:
    name, batch = spec.name, spec.batch

    async def load(keys: list[Any]) -> Any:
        LOADER_BATCH.observe(name, len(keys))
        if not tracing.enabled:
            return await batch(keys)
        with loader_batch_span(name, len(keys)):
            return await batch(keys)

    return DataLoader(load_fn=load)
