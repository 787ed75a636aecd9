"""Alembic environment, shipped inside the package so `todo-backend migrate` works from a venv."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from todo_backend.migrate import include_name, include_object
from todo_backend.models import Base


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
