"""The GraphQL layer: schema assembly, context, errors, extensions and the HTTP/WebSocket view."""
