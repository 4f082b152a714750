"""The strawberry ASGI view: JSON via orjson, GraphiQL only outside prod."""

from __future__ import annotations

import orjson
from strawberry.asgi import GraphQL

from app.graphql.schema import schema
from app.settings import Settings


class TaskboardGraphQL(GraphQL):
    def encode_json(self, data: object) -> str:
        # str, not bytes: bytes would make strawberry send WebSocket frames as binary.
        return orjson.dumps(data).decode()


def make_graphql_app(settings: Settings) -> TaskboardGraphQL:
    """The /graphql endpoint for HTTP and WebSocket."""
    return TaskboardGraphQL(
        schema,
        graphql_ide=None if settings.is_prod else "graphiql",
        multipart_uploads_enabled=False,
    )
