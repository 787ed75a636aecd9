"""`todo-backend serve | migrate`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from todo_backend.startup import starting

log = logging.getLogger("todo_backend")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="todo-backend", description="Todo Chatbot backend")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    commands.add_parser("migrate", help="wait for the database, then upgrade the schema to head")
    args = parser.parse_args(argv)

    with starting():
        from todo_backend.logs import configure_logging, uvicorn_log_config
        from todo_backend.settings import Settings

        settings = Settings()
        configure_logging(settings.log_level, batch=args.command == "serve")
    if args.command == "migrate":
        from todo_backend.db import safe_url
        from todo_backend.migrate import DatabaseUnavailable, upgrade_to_head

        try:
            upgrade_to_head(settings.sqlalchemy_url, wait_seconds=settings.migrate_wait_seconds)
        except DatabaseUnavailable as exc:
            log.error("migration failed", extra={"error": str(exc)})
            print(f"todo-backend migrate: {exc}", file=sys.stderr)
            sys.exit(1)
        log.info("schema at head", extra={"database": safe_url(settings.sqlalchemy_url)})
        return

    with starting():
        import uvicorn

        from todo_backend.api import create_app

        app = create_app(settings)
    log.info("todo-backend listening", extra={"host": args.host, "port": args.port})
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=uvicorn_log_config(),
        access_log=False,
    )


def mcp_main(argv: list[str] | None = None) -> None:
    """`todo-mcp`: the MCP server's module is imported here, with collections paused."""
    with starting():
        from todo_backend import mcp_server
    mcp_server.main(argv)
