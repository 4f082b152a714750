"""Cache keys of whole GraphQL responses (the only place they are built)."""

from __future__ import annotations

from app.cache.keys import CacheKey, collection_stamp, recorded
from app.common.changes import Entity


def response(params: object) -> CacheKey:
    """A query's response for one document, variables, operation and permission scope.

    Its entry is recorded (app.cache.Cache.get_recorded): it depends on the stamps of what the execution
    read through the resolver cache. `stamps` are the fallback for an execution that read something no
    stamp follows: every entity's collection stamp, which every committed write of it replaces.
    """
    # "body": entries hold `{"cost":N,"data":<the data as sent>}` (app.graphql.response_cache); the name moved
    # from "graphql" when the data stopped being stored as a JSON string, so no old entry is read as new.
    return recorded("body", params, (collection_stamp(entity) for entity in Entity))
