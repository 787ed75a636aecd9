"""The task list's direct read (`Database.fetch`) and the pool's cheap check of idle connections."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import needs_pg
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text, update

from todo_backend import tasks
from todo_backend.db import Database
from todo_backend.models import Task


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def test_fetched_rows_are_the_ones_the_session_gives(db):
    user = f"fetch-{time.monotonic_ns()}"
    base = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with db.session() as session:
        for index in range(5):
            task = tasks.create_task(session, user, f"task {index}", "desc" if index % 2 else None)
            session.execute(
                update(Task)
                .where(Task.id == task.id)
                .values(completed=index in (1, 3), created_at=base + timedelta(seconds=index % 3))
            )
        tasks.create_task(session, "someone-else", "not mine")
    for status in ("all", "pending", "completed"):
        with db.session() as session:
            expected = tasks.list_tasks(session, user, status)
        fetched = tasks.list_tasks_fetched(db, user, status)
        assert fetched == expected
        assert {t["completed"] for t in fetched} <= {True, False}
        assert all(type(t["completed"]) is bool and t["created_at"].tzinfo is not None for t in fetched)
    assert len(tasks.list_tasks_fetched(db, user)) == 5
    assert [t["title"] for t in tasks.list_tasks_fetched(db, user, "completed")] == ["task 1", "task 3"]
    assert tasks.list_tasks_fetched(db, "nobody") == []


def test_fetch_raises_sqlalchemy_errors_and_the_connection_stays_usable(db):
    # A statement the database refuses: the API's handlers see SQLAlchemy's exceptions, as usual.
    with pytest.raises(sa_exc.DBAPIError):
        db.fetch(select(Task.id).where(text("no_such_column IS NULL")), {})
    assert tasks.list_tasks_fetched(db, "nobody") == []


@needs_pg
def test_a_connection_the_server_ended_is_replaced_without_an_error(db, pg_databases):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL server ends connections; SQLite has none")
    user = f"ended-{time.monotonic_ns()}"
    with db.session() as session:
        tasks.create_task(session, user, "still here")
    assert len(tasks.list_tasks_fetched(db, user)) == 1
    database = db.engine.url.database
    with pg_databases.admin() as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
        assert ended and all(row[0] for row in ended)
        deadline = time.monotonic() + 5
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)).fetchone()[0]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # The pooled connection is dead; the next read and the next write get fresh ones, no error.
    assert [t["title"] for t in tasks.list_tasks_fetched(db, user)] == ["still here"]
    with db.session() as session:
        tasks.create_task(session, user, "after")
    assert len(tasks.list_tasks_fetched(db, user)) == 2
