"""Schema upgrades through alembic, and the schema check behind `/ready`."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from todo_backend.db import is_postgres, make_engine, safe_url
from todo_backend.settings import MIGRATE_WAIT_SECONDS

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any fixed 64-bit number works; both replicas must agree on it. ("todo" in ASCII.)
ADVISORY_LOCK_KEY = 0x746F646F


# better-auth keeps its tables in the same database; they are the frontend's, never ours.
FOREIGN_TABLES = frozenset({"user", "session", "account", "verification", "jwks"})


def include_name(name: str | None, type_: str, parent_names: Mapping[str, str | None]) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


class DatabaseUnavailable(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    # alembic is imported on first use: it costs ~150 ms, and `serve` must answer /health fast.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def wait_for_database(engine: Engine, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise DatabaseUnavailable(
                    f"database {safe_url(str(engine.url))} did not accept connections within "
                    f"{timeout:.0f} s ({attempt} attempts); last error: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}"
                ) from exc
            log.info("waiting for the database", extra={"attempt": attempt})
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def upgrade_to_head(url: str, *, wait_seconds: float = MIGRATE_WAIT_SECONDS) -> None:
    """Bring the schema to head. Idempotent; safe when several replicas run it at once."""
    from alembic import command

    engine = make_engine(url, pool_size=1)
    try:
        wait_for_database(engine, wait_seconds)
        config = alembic_config(url)
        with engine.begin() as conn:
            if is_postgres(url):
                # Held until this transaction commits, i.e. after the upgrade (Postgres DDL is
                # transactional), so a second replica waits here and then finds the schema at head.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def schema_problem(engine: Engine) -> str | None:
    """None when the database answers and the schema is at head; otherwise the reason."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        return f"database unavailable: {type(exc).__name__}"
    head = head_revision()
    if current != head:
        return f"schema at revision {current or 'none'}, expected {head}; run `todo-backend migrate`"
    return None
