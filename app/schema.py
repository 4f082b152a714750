"""The one module that imports every domain.

- assembles the GraphQL schema from each domain's Query, Mutation and Subscription parts;
- plugs the cross-domain ports in (app.common.ports: what users needs of tasks, which it may not import);
- names what the runtime needs from the domains (their Beanie documents, their event streams).

app.main and app.cli, the composition root, use it; app.graphql, app.events and app.stores get what they
need from here as arguments, never by importing a domain.
"""

from __future__ import annotations

import strawberry

import app
from app.audit.resolvers import AuditQuery
from app.common import ports
from app.graphql.schema import TaskboardSchema, build_schema
from app.runtime import Parts
from app.settings import Settings, get_settings
from app.tags.resolvers import TagMutation, TagQuery
from app.tasks import assignments
from app.tasks.events import TASK_EVENTS
from app.tasks.resolvers import TaskMutation, TaskQuery, assigned_tasks_page
from app.tasks.subscriptions import TaskSubscription
from app.users.documents import USER_INDEXES, User
from app.users.resolvers import UserMutation, UserQuery


@strawberry.type(description="Read operations.")
class Query(TaskQuery, TagQuery, UserQuery, AuditQuery):
    @strawberry.field(description="Version of the running Taskboard API.")
    def api_version(self) -> str:
        return app.__version__


@strawberry.type(description="Write operations; each validates its whole input before writing anything.")
class Mutation(TaskMutation, TagMutation, UserMutation):
    pass


@strawberry.type(description="Live events over WebSocket (graphql-transport-ws or graphql-ws).")
class Subscription(TaskSubscription):
    pass


# The users domain reads task counts, unassigns a deleted user's tasks and serves `User.tasks` through these.
ports.TASK_ASSIGNMENTS.plug(assignments)
ports.USER_TASKS.plug(assigned_tasks_page)

PARTS = Parts(documents={User: USER_INDEXES}, streams=(TASK_EVENTS,))


def build(settings: Settings) -> TaskboardSchema:
    """The API's schema with the extensions `settings` ask for."""
    return build_schema(settings, query=Query, mutation=Mutation, subscription=Subscription)


schema = build(get_settings())
