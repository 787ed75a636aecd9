"""Alembic environment, shipped inside the package so `todo-backend migrate` works from a venv."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from todo_backend.models import Base

# better-auth keeps its tables in the same database; they are the frontend's, never ours.
FOREIGN_TABLES = frozenset({"user", "session", "account", "verification", "jwks"})


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    if type_ == "table":
        return name not in FOREIGN_TABLES
    return True


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table":
        return name not in FOREIGN_TABLES
    return True


def run_migrations() -> None:
    config = context.config
    options = dict(
        target_metadata=Base.metadata,
        include_name=include_name,
        include_object=include_object,
        compare_type=True,
        render_as_batch=True,
    )
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
