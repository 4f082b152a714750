"""Tags: PostgreSQL model, service, GraphQL types and loaders."""
