"""Engine and session handling shared by the REST app, the MCP server and the migrations."""

from __future__ import annotations

import asyncio
import select
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker

from todo_backend.settings import normalize_database_url as normalize_database_url  # callers import it from here too

T = TypeVar("T")

# Errors that mean "the database cannot be reached right now" (down, restarting, pool exhausted),
# not a bug: the request may be retried.
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)

# Pooled PostgreSQL connections per process, and how many more may be opened for a burst (those
# are closed again when returned). The pool holds the usual number of requests in flight, so steady
# traffic reuses connections instead of opening and closing one per request.
POOL_SIZE = 10
MAX_OVERFLOW = 5
# PostgreSQL connections for reads on the event loop (`Database.fetch_async`), per process.
READ_POOL_SIZE = 5
# Seconds a request waits for a free connection (SQLAlchemy's pool_timeout): then a 503.
POOL_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5


def safe_url(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database url>"


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def closed_by_server(dbapi_connection: Any) -> bool:
    """Whether an idle PostgreSQL connection has been closed from the other side.

    An idle connection is sent nothing, unless the server ends it (a restart or shutdown sends a
    FATAL message, then closes the socket) or the socket is reset: either way it becomes readable.
    One poll() instead of a `SELECT 1` round trip per checkout (SQLAlchemy's pre-ping).
    """
    if dbapi_connection.closed:
        return True
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # psycopg raises when the connection is already broken
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def make_engine(url: str, *, pool_size: int = POOL_SIZE) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the backend and the MCP server read while the other writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT,
        connect_args={"connect_timeout": CONNECT_TIMEOUT},
    )

    @event.listens_for(engine, "checkout")
    def _check_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # The pool replaces a connection that raises this (up to three times), so a database that
        # restarted costs no request an error once it accepts connections again.
        if closed_by_server(dbapi_connection):
            raise sa_exc.DisconnectionError("the database closed this connection")

    return engine


class CompiledSelect:
    """A Core SELECT compiled once for one dialect, for `Database.fetch`.

    Rows are plain tuples, converted by the selected columns' own result processors (none for
    this schema on PostgreSQL; booleans and datetimes on SQLite), so they hold what SQLAlchemy's
    rows would.
    """

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement  # kept alive: `Database` keys its compiled statements by id()
        self.sql = str(compiled)
        self._order = list(compiled.positiontup or []) if compiled.positional else None
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        self._processors = processors if any(processors) else None

    def parameters(self, values: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        return values if self._order is None else tuple(values[name] for name in self._order)

    def rows(self, raw: list[Any]) -> list[tuple[Any, ...]]:
        if self._processors is None:
            return raw
        processors = self._processors
        return [
            tuple(value if convert is None else convert(value) for convert, value in zip(processors, row, strict=True))
            for row in raw
        ]


class AsyncReadPool:
    """PostgreSQL connections for single-statement reads that run on the event loop.

    A read through a worker thread costs a thread hop and the GIL changing hands several times;
    here the query waits on the event loop like any other I/O. Connections are in autocommit
    (one statement, one round trip), at most `size` of them, opened when none is idle, so while
    the database is down a read fails at once (503) rather than waiting. An idle connection the
    server has closed is dropped; one that saw an error, or whose query was cancelled half-way,
    is closed instead of reused. Past `size` reads in flight, a read waits for a free connection
    up to `timeout` seconds, then fails as SQLAlchemy's pool does.
    """

    def __init__(self, engine: Engine, *, size: int = READ_POOL_SIZE, timeout: float = POOL_TIMEOUT) -> None:
        import psycopg  # only this pool needs the driver's async side

        self._psycopg = psycopg
        self._dialect = engine.dialect
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (cargs, {**cparams, "connect_timeout": CONNECT_TIMEOUT, "autocommit": True})
        self._slots = asyncio.Semaphore(size)
        self._idle: list[Any] = []
        # The statements `fetch_text` prepared on each connection (by name), and each SQL text's name.
        self._prepared: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()
        self._names: dict[str, bytes] = {}
        self._timeout = timeout
        self._closed = False

    async def fetch(self, sql: str, parameters: Any) -> list[tuple[Any, ...]]:
        async def rows(connection: Any) -> list[tuple[Any, ...]]:
            cursor = await connection.execute(sql, parameters)
            return await cursor.fetchall()

        return await self._read(sql, parameters, rows)

    async def fetch_text(self, sql: str, parameters: Sequence[str]) -> bytes:
        """The one value of a query that returns one row of one column, as the bytes the server sent.

        The hottest read (the task list's JSON) goes this way: straight through libpq, as a
        statement each connection prepares once, with `$1`-style text parameters. psycopg's cursor,
        its adaptation and its statement cache cost more CPU per call than the rest of the read,
        and the value needs no decoding (the response sends these very bytes).
        """
        return await self._read(sql, parameters, lambda connection: self._prepared_value(connection, sql, parameters))

    async def _read(self, sql: str, parameters: Any, read: Callable[[Any], Awaitable[T]]) -> T:
        """`read` on a pooled connection: a slot and a connection taken and given back, and a read
        that fails half-way closes its connection and raises SQLAlchemy's error for psycopg's."""
        await self._acquire()
        try:
            connection = await self._connection(sql, parameters)
            try:
                value = await read(connection)
            except BaseException as exc:
                await self._discard(connection)  # failed half-way: closed, not reused
                if isinstance(exc, self._psycopg.Error):
                    raise self._wrapped(exc, sql, parameters) from exc
                raise
            await self._give_back(connection)
            return value
        finally:
            self._slots.release()

    async def _acquire(self) -> None:
        if self._slots.locked():
            # Only a read that has to wait for a slot arms a timer (a timer per read costs more
            # than the bookkeeping of the rest of this method).
            try:
                async with asyncio.timeout(self._timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise sa_exc.TimeoutError(f"no database connection free within {self._timeout:g} s") from None
        else:
            await self._slots.acquire()

    async def _give_back(self, connection: Any) -> None:
        if self._closed:
            await self._discard(connection)
        else:
            self._idle.append(connection)

    async def _prepared_value(self, connection: Any, sql: str, parameters: Sequence[str]) -> bytes:
        pgconn = connection.pgconn
        name = self._names.get(sql)
        if name is None:
            name = self._names[sql] = f"todo_read_{len(self._names)}".encode()
        prepared = self._prepared.setdefault(connection, set())
        if name not in prepared:
            pgconn.send_prepare(name, sql.encode())
            self._checked(connection, await self._result(pgconn))
            prepared.add(name)
        pgconn.send_query_prepared(name, [value.encode() for value in parameters])
        result = self._checked(connection, await self._result(pgconn))
        value = result.get_value(0, 0) if result.ntuples == 1 and result.nfields == 1 else None
        if value is None:
            raise ValueError("the query did not return exactly one non-null value")
        return value

    async def _result(self, pgconn: Any) -> Any:
        """The (first) result of what was sent on `pgconn`, waiting on the event loop, never blocking it.

        Reads until libpq has no more results for the query, so the connection is idle again."""
        loop = asyncio.get_running_loop()
        fd = pgconn.socket
        while pgconn.flush():  # non-blocking: 1 while part of the query is still unsent
            await _ready(loop.add_writer, loop.remove_writer, loop, fd)
        first = None
        while True:
            pgconn.consume_input()
            while pgconn.is_busy():
                await _ready(loop.add_reader, loop.remove_reader, loop, fd)
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                return first
            if first is None:
                first = result

    def _checked(self, connection: Any, result: Any) -> Any:
        ok = self._psycopg.pq.ExecStatus
        if result is None or result.status not in (ok.TUPLES_OK, ok.COMMAND_OK):
            if result is None:
                raise self._psycopg.OperationalError("the database sent no result")
            raise self._psycopg.errors.error_from_result(result, encoding=connection.info.encoding)
        return result

    async def _connection(self, sql: str, parameters: Any) -> Any:
        while self._idle:
            connection = self._idle.pop()
            if not closed_by_server(connection):
                return connection
            await self._discard(connection)
        cargs, cparams = self._connect_args
        try:
            return await self._psycopg.AsyncConnection.connect(*cargs, **cparams)
        except self._psycopg.Error as exc:
            raise self._wrapped(exc, sql, parameters) from exc

    def _wrapped(self, exc: Exception, sql: str, parameters: Any) -> Exception:
        """The driver's error as SQLAlchemy's (OperationalError and the rest), as the routes expect."""
        return sa_exc.DBAPIError.instance(sql, parameters, exc, self._psycopg.Error, dialect=self._dialect)

    @staticmethod
    async def _discard(connection: Any) -> None:
        try:
            await connection.close()
        except Exception:
            pass

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await self._discard(connection)


async def _ready(
    watch: Callable[..., None], unwatch: Callable[[int], object], loop: asyncio.AbstractEventLoop, fd: int
) -> None:
    """Waits until `fd` is readable (`loop.add_reader`) or writable (`loop.add_writer`)."""
    ready = loop.create_future()
    watch(fd, ready.set_result, None)
    try:
        await ready
    finally:
        unwatch(fd)


class _Engine:
    """What `Database` makes of its URL on first use: the engine and its two ways in."""

    def __init__(self, url: str, pool_size: int) -> None:
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Same pool; each statement commits by itself, so a read is one round trip (no BEGIN,
        # no COMMIT). A connection goes back to the pool in its usual transactional mode.
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")


class Database:
    """One engine plus a session factory; created by the app, never at import time.

    The engine itself is made on first use (the readiness probe's schema check, or the first
    request): making it imports the database driver and SQLAlchemy's dialect, about a fifth of
    a server's start-up, which liveness does not need. The URL is parsed here, so a malformed
    one still fails at start.
    """

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.is_postgres = is_postgres(url)
        self._pool_size = pool_size
        self._made: _Engine | None = None
        self._making = threading.Lock()  # sync routes run in worker threads: one engine for all
        self._compiled: dict[int, CompiledSelect] = {}
        self._reads: AsyncReadPool | None = None

    def _engine(self) -> _Engine:
        made = self._made
        if made is None:
            with self._making:
                if self._made is None:
                    self._made = _Engine(self.url, self._pool_size)
                made = self._made
        return made

    @property
    def engine(self) -> Engine:
        return self._engine().engine

    def _compiled_select(self, statement: Select[Any]) -> CompiledSelect:
        query = self._compiled.get(id(statement))
        if query is None or query.statement is not statement:
            query = self._compiled[id(statement)] = CompiledSelect(statement, self.engine.dialect)
        return query

    async def fetch_async(self, statement: Select[Any], parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """`fetch` without a worker thread: on PostgreSQL through `AsyncReadPool` (opened on first use)."""
        if not self.is_postgres:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(self.fetch, statement, parameters)
        query = self._compiled_select(statement)
        if self._reads is None:
            self._reads = AsyncReadPool(self.engine)
        return query.rows(await self._reads.fetch(query.sql, query.parameters(parameters)))

    async def fetch_text_async(self, sql: str, parameters: Sequence[str]) -> bytes:
        """The one value of a PostgreSQL query (`$1`-style text parameters) that returns one row of
        one column, as the server sent it: `AsyncReadPool.fetch_text`. Errors are SQLAlchemy's, as
        from `fetch_async`."""
        if self._reads is None:
            self._reads = AsyncReadPool(self.engine)
        return await self._reads.fetch_text(sql, parameters)

    def fetch(self, statement: Select[Any], parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """All rows of a module-level SELECT, as tuples: the cheapest read there is.

        SQLAlchemy compiles the statement once; each call is then a pooled connection's DBAPI
        cursor and one round trip outside a transaction, without SQLAlchemy's per-execution work
        (cache key, execution context, a Row object per row), which for a list of tasks costs
        more than the query itself. Errors are SQLAlchemy's, as from `Connection.execute`, and a
        connection the error shows to be dead is dropped from the pool.
        """
        query = self._compiled_select(statement)
        dialect = self.engine.dialect
        with self._engine().autocommit.connect() as connection:
            dbapi_connection = connection.connection.dbapi_connection
            cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(query.sql, query.parameters(parameters))
                raw = cursor.fetchall()
            except dialect.loaded_dbapi.Error as exc:
                dead = dialect.is_disconnect(exc, dbapi_connection, cursor)
                if dead:
                    connection.invalidate(exc)
                raise sa_exc.DBAPIError.instance(
                    query.sql, parameters, exc, dialect.loaded_dbapi.Error, connection_invalidated=dead, dialect=dialect
                ) from exc
            finally:
                cursor.close()
        return query.rows(raw)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._engine().sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    async def close_async(self) -> None:
        """Closes the event loop's connections (`fetch_async`); call before `dispose`, on that loop."""
        if self._reads is not None:
            await self._reads.close()
            self._reads = None

    def dispose(self) -> None:
        if self._made is not None:
            self._made.engine.dispose()
