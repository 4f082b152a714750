"""Assembles Query, Mutation and Subscription from the domain packages into one strawberry schema."""

from __future__ import annotations

import strawberry

import app


@strawberry.type(description="Read operations.")
class Query:
    @strawberry.field(description="Version of the running Taskboard API.")
    def api_version(self) -> str:
        return app.__version__


def build_schema() -> strawberry.Schema:
    """The schema with its extensions (limits, caches, error masking)."""
    return strawberry.Schema(query=Query)


schema = build_schema()
