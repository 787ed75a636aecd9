"""Schema upgrades through alembic, and the schema check behind `/ready`."""

from __future__ import annotations

import ast
import logging
import re
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

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


# A migration's own identity, as alembic writes it into each file under versions/.
REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


@lru_cache(maxsize=4)
def head_revision(versions: Path = MIGRATIONS_DIR / "versions") -> str | None:
    """The newest migration: the one revision no other migration revises.

    Read from the files' `revision` / `down_revision` lines, not through alembic: `/ready` asks,
    and importing alembic would cost the first readiness check ~150 ms. The tests hold it to
    alembic's own answer.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        for name, value in REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            found = ast.literal_eval(value)  # a string, None, or a merge's tuple of strings
            names = {found} if isinstance(found, str) else set(found or ())
            (revisions if name == "revision" else revised).update(names)
    heads = revisions - revised
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}); merge them")
    return next(iter(heads), None)


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
    """None when the database answers and the schema is at head; otherwise the reason.

    The revision is read as alembic keeps it (one row in `alembic_version`; no table: none yet)."""
    try:
        with engine.connect() as conn:
            current = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if inspect(conn).has_table("alembic_version")
                else None
            )
    except Exception as exc:
        return f"database unavailable: {type(exc).__name__}"
    head = head_revision()
    if current != head:
        return f"schema at revision {current or 'none'}, expected {head}; run `todo-backend migrate`"
    return None
