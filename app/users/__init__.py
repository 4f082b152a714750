"""Users: MongoDB documents with an embedded profile, service, GraphQL types and loaders."""
