"""The `taskboard` console script: serve, migrate, export-schema (and more as the product grows)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from app.settings import get_settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        ws="websockets",
        lifespan="on",
        log_level=settings.log_level.lower(),
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


def cmd_export_schema(args: argparse.Namespace) -> int:
    from strawberry.printer import print_schema

    from app.graphql.schema import schema

    sdl = print_schema(schema) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


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
