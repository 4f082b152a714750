"""The `taskboard` console script: serve, migrate, data-migrate, seed, token, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence

from app.settings import Settings, get_settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.logs import configure_logging
    from app.metrics_supervisor import serving_metrics

    settings = get_settings()
    configure_logging(settings)
    # Before uvicorn starts its workers: they must import prometheus_client in multiprocess mode.
    with serving_metrics(settings, workers=args.workers):
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            # Per-message compression costs CPU and tens of KB per socket; task events are small.
            ws_per_message_deflate=False,
            # A WebSocket message may be as large as an HTTP body, not uvicorn's 16 MiB: larger ones close
            # the socket with 1009 (message too big).
            ws_max_size=settings.max_body_bytes,
            lifespan="on",
            log_level=settings.log_level.lower(),
            access_log=False,  # the edge middleware writes the access log (app.http.access_log)
            proxy_headers=False,
        )
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from app.logs import configure_logging
    from app.stores.migrations import apply_migrations

    settings = get_settings()
    configure_logging(settings)
    applied = asyncio.run(apply_migrations(settings))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


BATCH_COMMAND_TIMEOUT_S = 3600.0


def _with_stores(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    """Run work with the stores open, the cache listening and task events published, as in the app."""
    from app.logs import configure_logging
    from app.runtime import running
    from app.schema import PARTS

    configure_logging(settings)
    # Batch work (a seed's COPY and commit, a data migration) is not held to a request's statement time-out.
    settings = settings.model_copy(update={"pg_command_timeout_s": BATCH_COMMAND_TIMEOUT_S})

    async def run() -> int:
        # Seeding and data migrations announce their changes: caches and subscribers must hear them.
        async with running(settings, PARTS, listen_for_events=False):
            return await work()

    return asyncio.run(run())


def cmd_data_migrate(args: argparse.Namespace) -> int:
    from app.data_migrations.registry import UnknownDataMigration, find, load_registry
    from app.data_migrations.runner import RunResult, RunStatus, migration_states, run_migration, run_pending

    registry = load_registry()
    if [args.name is not None, args.all, args.list].count(True) != 1:
        print("taskboard data-migrate: give one of NAME, --all or --list", file=sys.stderr)
        return 2
    if args.name is not None:
        try:
            find(registry, args.name)  # before connecting: a typo should not wait for the stores
        except UnknownDataMigration as exc:
            print(f"taskboard data-migrate: {exc.message}", file=sys.stderr)
            return 2

    def show(result: RunResult) -> None:
        detail = f": {result.outcome.summary}" if result.outcome else ""
        timing = f" in {result.duration_ms} ms" if result.status is RunStatus.APPLIED else ""
        print(f"{result.name}: {result.status.value}{timing}{detail}")

    async def work() -> int:
        if args.list:
            for state in await migration_states(registry=registry):
                when = "pending"
                if state.applied_at is not None:
                    when = f"applied {state.applied_at:%Y-%m-%d %H:%M:%S} ({state.duration_ms} ms)"
                print(f"{state.name:<24} {when:<38} {state.description}")
            return 0
        if args.all:
            ran = 0
            async for result in run_pending(dry_run=args.dry_run, registry=registry):
                show(result)
                ran += 1
            if not ran:
                print("no pending data migrations")
            return 0
        show(await run_migration(name=args.name, dry_run=args.dry_run, registry=registry))
        return 0

    return _with_stores(get_settings(), work)


def cmd_seed(args: argparse.Namespace) -> int:
    from app.seeding.plan import SeedPlan
    from app.seeding.progress import progress_for
    from app.seeding.service import ClearRefused, DatabaseNotEmpty, check_clear_allowed, is_empty, seed_database

    settings = get_settings()
    if args.clear:
        try:
            check_clear_allowed(app_env=settings.app_env, confirmed=args.yes)
        except ClearRefused as exc:
            print(f"taskboard seed: {exc.message}", file=sys.stderr)
            return 2
    plan = SeedPlan(users=args.users, tasks=args.tasks, seed=args.seed)

    async def work() -> int:
        if args.if_empty and not await is_empty():
            print("seed --if-empty: the database already has tasks or users; nothing seeded")
            return 0
        try:
            with progress_for(sys.stderr) as progress:
                report = await seed_database(plan=plan, clear=args.clear, progress=progress)
        except DatabaseNotEmpty as exc:
            print(f"taskboard seed: {exc.message}", file=sys.stderr)
            return 1
        print(
            f"seeded {plan.users} user(s), {plan.tasks} task(s) and {report.tag_links} tag link(s) "
            f"with seed {plan.seed}{' after clearing' if report.cleared else ''} in {report.seconds:.1f}s"
        )
        return 0

    return _with_stores(settings, work)


def cmd_export_schema(args: argparse.Namespace) -> int:
    from strawberry.printer import print_schema

    from app.schema import schema

    sdl = print_schema(schema) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from app.auth.tokens import mint_for_settings

    settings = get_settings()
    if (args.user_id is None) == (args.email is None):
        print("taskboard token: give one of --user-id or --email", file=sys.stderr)
        return 2

    def mint(user_id: str) -> int:
        try:
            token = mint_for_settings(settings, user_id=user_id, role=args.role, ttl_s=args.ttl)
        except ValueError as exc:
            print(f"taskboard token: {exc}", file=sys.stderr)
            return 2
        print(token)
        return 0

    if args.user_id is not None:
        return mint(args.user_id.strip().lower())

    async def work() -> int:
        from app.auth.principal import system
        from app.users.service import create_user, get_user_by_email

        user = await get_user_by_email(email=args.email)
        if user is None and args.create:
            user = await create_user(email=args.email, name=args.name, actor=system("cli"))
            print(f"created user {user.email} ({user.id})", file=sys.stderr)
        if user is None:
            print(f"taskboard token: no user with email {args.email!r} (add --create to create one)", file=sys.stderr)
            return 1
        return mint(str(user.id))

    return _with_stores(settings, work)


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be zero or more")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taskboard", description="Taskboard API command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API with uvicorn (uvloop, httptools)")
    serve.add_argument("--host", default=None, help="bind address (default: HOST setting)")
    serve.add_argument("--port", type=int, default=None, help="port (default: PORT setting)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply pending schema migrations (safe from many replicas)")
    migrate.set_defaults(func=cmd_migrate)

    data_migrate = sub.add_parser("data-migrate", help="run named data migrations once each (see --list)")
    data_migrate.add_argument("name", nargs="?", default=None, help="the data migration to run")
    data_migrate.add_argument("--all", action="store_true", help="run every pending one, in order")
    data_migrate.add_argument("--list", action="store_true", help="show applied and pending ones")
    data_migrate.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    data_migrate.set_defaults(func=cmd_data_migrate)

    from app.seeding.plan import DEMO_PLAN

    seed = sub.add_parser("seed", help="fill the databases with deterministic fake users, tags and tasks")
    seed.add_argument("--users", type=_count, default=DEMO_PLAN.users, help=f"users (default {DEMO_PLAN.users})")
    seed.add_argument("--tasks", type=_count, default=DEMO_PLAN.tasks, help=f"tasks (default {DEMO_PLAN.tasks})")
    seed.add_argument("--seed", type=int, default=DEMO_PLAN.seed, help=f"random seed (default {DEMO_PLAN.seed})")
    mode = seed.add_mutually_exclusive_group()
    mode.add_argument("--clear", action="store_true", help="delete all tasks, tags and users first")
    mode.add_argument("--if-empty", action="store_true", help="seed only when there are no tasks and no users")
    seed.add_argument("--yes", action="store_true", help="confirm --clear when APP_ENV=prod")
    seed.set_defaults(func=cmd_seed)

    token = sub.add_parser("token", help="print a signed bearer token for a user (development, tests, scripts)")
    who = token.add_mutually_exclusive_group()
    who.add_argument("--user-id", default=None, help="the user's id (24 hex characters)")
    who.add_argument("--email", default=None, help="look the user up by email")
    token.add_argument("--role", choices=["member", "admin"], default="member", help="role claim (default member)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument("--create", action="store_true", help="with --email: create the user when missing")
    token.add_argument("--name", default=None, help="with --create: the new user's name")
    token.set_defaults(func=cmd_token)

    export = sub.add_parser("export-schema", help="print the GraphQL SDL (or write it to --output)")
    export.add_argument("--output", "-o", default=None, help="file to write instead of stdout")
    export.set_defaults(func=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    from app.stores.startup import StoreUnavailable

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StoreUnavailable as exc:
        print(f"taskboard: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
