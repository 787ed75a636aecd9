"""The task list's direct reads (`Database.fetch_async` and `fetch`) and the pools' cheap check of
idle connections."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import needs_pg
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text, update

from todo_backend import tasks
from todo_backend.db import AsyncReadPool, Database
from todo_backend.models import Task


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def fetched(db: Database, user: str, status: tasks.StatusFilter = "all") -> list[dict]:
    """The list as the route reads it (on the event loop), checked against the worker-thread read."""

    async def on_the_loop():
        try:
            return await tasks.list_tasks_fetched(db, user, status)
        finally:
            await db.close_async()

    rows = asyncio.run(on_the_loop())
    assert rows == [tasks._task_row(row) for row in db.fetch(tasks.LIST_QUERIES[status], {"user_id": user})]
    return rows


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
        rows = fetched(db, user, status)
        assert rows == expected
        assert all(type(t["completed"]) is bool and t["created_at"].tzinfo is not None for t in rows)
    assert len(fetched(db, user)) == 5
    assert [t["title"] for t in fetched(db, user, "completed")] == ["task 1", "task 3"]
    assert fetched(db, "nobody") == []


def test_the_list_body_is_what_the_response_model_would_serialize(db):
    """On PostgreSQL the server writes the list's JSON: byte for byte TaskOut's serialization of the
    rows, whatever the strings hold (JSON's escapes, non-ASCII, line separators) and whether a
    timestamp has a fraction of a second or not."""
    from pydantic import TypeAdapter

    from todo_backend.api.schemas import TaskOut

    user = f"json-{time.monotonic_ns()}"
    titles = [
        'quote " backslash \\ slash / <script>',
        "controls \x01\x08\t\n\x0b\x0c\r\x1b\x1f del \x7f",
        "é ü ß 中文 \u2028 \u2029 \U0001f600 \ufeff",
        "null",
        "a  b",
    ]
    whole_second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with db.session() as session:
        for index, title in enumerate(titles):
            task = tasks.create_task(session, user, title, [None, "", 'two\nlines "q"', "\\", "x" * 2000][index])
            moments = [whole_second, whole_second.replace(microsecond=1), whole_second.replace(microsecond=120000)]
            session.execute(
                update(Task)
                .where(Task.id == task.id)
                .values(
                    completed=index % 2 == 1,
                    created_at=moments[index % 3] + timedelta(days=index),
                    updated_at=moments[(index + 1) % 3] - timedelta(days=400 * index),
                )
            )
    adapter = TypeAdapter(list[TaskOut])

    async def body(status):
        try:
            return await tasks.list_tasks_json(db, user, status)
        finally:
            await db.close_async()

    for status in ("all", "pending", "completed"):
        with db.session() as session:
            expected = adapter.dump_json(adapter.validate_python(tasks.list_tasks(session, user, status)))
        assert asyncio.run(body(status)) == expected
    assert asyncio.run(body("all")).count(b'Z"') == 2 * len(titles)
    assert asyncio.run(tasks.list_tasks_json(db, "nobody")) == b"[]"


def test_fetch_raises_sqlalchemy_errors_and_the_connection_stays_usable(db):
    # A statement the database refuses: the API's handlers see SQLAlchemy's exceptions, as usual.
    with pytest.raises(sa_exc.DBAPIError):
        db.fetch(select(Task.id).where(text("no_such_column IS NULL")), {})
    assert fetched(db, "nobody") == []


@needs_pg
def test_a_connection_the_server_ended_is_replaced_without_an_error(db, pg_databases):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL server ends connections; SQLite has none")
    user = f"ended-{time.monotonic_ns()}"
    with db.session() as session:
        tasks.create_task(session, user, "still here")
    assert len(fetched(db, user)) == 1
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
    assert [t["title"] for t in fetched(db, user)] == ["still here"]
    with db.session() as session:
        tasks.create_task(session, user, "after")
    assert len(fetched(db, user)) == 2


def pg_only(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the event loop's pool is PostgreSQL's (SQLite reads go through a worker thread)")


@needs_pg
def test_the_loop_pool_replaces_ended_connections_and_drops_failed_ones(db, pg_databases):
    pg_only(db)
    pool = AsyncReadPool(db.engine, size=2)
    database = db.engine.url.database

    async def scenario():
        assert await pool.fetch("SELECT 1", {}) == [(1,)]
        with pg_databases.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
        await asyncio.sleep(0.3)
        assert await pool.fetch("SELECT 2", {}) == [(2,)]  # a fresh connection, no error
        with pytest.raises(sa_exc.ProgrammingError):
            await pool.fetch("SELECT no_such_column", {})
        assert pool._idle == []  # the connection that failed was closed, not kept
        assert await pool.fetch("SELECT 3", {}) == [(3,)]
        await pool.close()

    asyncio.run(scenario())


@needs_pg
def test_fetch_text_prepares_once_per_connection_and_drops_what_failed(db, pg_databases):
    """The task list's read through libpq: one value as the server's bytes, the statement prepared
    once on each connection (again on a fresh one), a failed or odd query's connection closed."""
    pg_only(db)
    pool = AsyncReadPool(db.engine, size=1)
    database = db.engine.url.database
    echo = "SELECT $1::text || '|' || $2::text"

    async def prepared_here() -> list[tuple[str]]:
        return await pool.fetch("SELECT name FROM pg_prepared_statements WHERE name LIKE 'todo%%'", {})

    async def scenario():
        assert await pool.fetch_text(echo, ["a", "é \" '"]) == "a|é \" '".encode()
        assert await pool.fetch_text(echo, ["b", ""]) == b"b|"
        assert await prepared_here() == [("todo_read_0",)]  # the same connection, prepared once
        with pg_databases.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
        await asyncio.sleep(0.3)
        assert await pool.fetch_text(echo, ["c", "d"]) == b"c|d"  # a fresh connection prepares it again
        assert await prepared_here() == [("todo_read_0",)]
        with pytest.raises(sa_exc.ProgrammingError):
            await pool.fetch_text("SELECT no_such_column", [])
        assert pool._idle == []
        with pytest.raises(sa_exc.DataError):
            await pool.fetch_text("SELECT $1::int::text", ["not a number"])
        assert pool._idle == []
        with pytest.raises(ValueError):
            await pool.fetch_text("SELECT x::text FROM generate_series(1, 2) AS x", [])
        assert pool._idle == []
        assert await pool.fetch_text(echo, ["e", "f"]) == b"e|f"
        read = asyncio.create_task(pool.fetch_text("SELECT pg_sleep(5)::text", []))
        await asyncio.sleep(0.3)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        assert pool._idle == []
        started = time.monotonic()
        assert await pool.fetch_text(echo, ["g", "h"]) == b"g|h"
        assert time.monotonic() - started < 2
        await pool.close()

    asyncio.run(scenario())


@needs_pg
def test_the_loop_pool_is_bounded_and_times_out_like_the_sync_pool(db):
    pg_only(db)

    async def scenario():
        pool = AsyncReadPool(db.engine, size=2, timeout=5)
        started = time.monotonic()
        await asyncio.gather(*(pool.fetch("SELECT pg_sleep(0.2)", {}) for _ in range(6)))
        assert time.monotonic() - started >= 0.6 - 0.05  # three rounds of two: never more than two at once
        assert len(pool._idle) == 2
        await pool.close()

        busy = AsyncReadPool(db.engine, size=1, timeout=0.2)
        slow = asyncio.create_task(busy.fetch("SELECT pg_sleep(1)", {}))
        await asyncio.sleep(0.1)
        with pytest.raises(sa_exc.TimeoutError):
            await busy.fetch("SELECT 1", {})
        await slow
        await busy.close()

    asyncio.run(scenario())


@needs_pg
def test_a_cancelled_read_gives_back_its_slot_and_not_its_connection(db):
    pg_only(db)

    async def scenario():
        pool = AsyncReadPool(db.engine, size=1, timeout=2)
        read = asyncio.create_task(pool.fetch("SELECT pg_sleep(5)", {}))
        await asyncio.sleep(0.3)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        assert pool._idle == []
        started = time.monotonic()
        assert await pool.fetch("SELECT 1", {}) == [(1,)]
        assert time.monotonic() - started < 2
        await pool.close()

    asyncio.run(scenario())


def test_reads_while_the_database_is_down_fail_at_once_as_sqlalchemy_errors():
    from support import free_port

    database = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")

    async def scenario():
        started = time.monotonic()
        with pytest.raises(sa_exc.OperationalError):
            await tasks.list_tasks_fetched(database, "anyone")
        with pytest.raises(sa_exc.OperationalError):
            await tasks.list_tasks_json(database, "anyone")
        assert time.monotonic() - started < 3
        await database.close_async()

    try:
        asyncio.run(scenario())
    finally:
        database.dispose()
