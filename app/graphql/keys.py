"""Cache keys of whole GraphQL responses (the only place they are built)."""

from __future__ import annotations

from app.cache.keys import CacheKey, collection, collection_stamp
from app.common.changes import Entity


def response(params: object) -> CacheKey:
    """A query's response for one document, variables, operation and permission scope.

    It depends on every entity's collection stamp, which every committed write replaces: any write makes
    every cached response unservable (coarse, and exact).
    """
    return collection(
        "response", "graphql", params, also=tuple(collection_stamp(entity) for entity in Entity)
    )
