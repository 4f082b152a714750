"""Abuse protection: a Redis rate limit charged by cost (ratelimit.py) and its bucket keys (keys.py). The static
cost it is charged is app.graphql.cost (a property of the GraphQL document)."""
