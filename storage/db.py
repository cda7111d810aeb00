"""Engines and sessions for SQLite (the default) and PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

DEFAULT_DATABASE_URL = "sqlite:///salescoach.db"
# SQLite writers wait this long for the write lock before "database is locked".
BUSY_TIMEOUT = 30.0
# ...and then the whole unit of work is tried again this many times in all.
BUSY_ATTEMPTS = 3
log = logging.getLogger(__name__)
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Route plain postgresql:// URLs through psycopg 3, the driver we ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(
    url: str = DEFAULT_DATABASE_URL, *, echo: bool = False, busy_timeout: float = BUSY_TIMEOUT
) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so writers wait, not fail."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": busy_timeout}
        )
        event.listen(engine, "connect", partial(_configure_sqlite, busy_timeout))
        return engine
    # Enough pooled connections for every worker thread (asyncio's default executor has
    # min(32, CPUs + 4)); one beyond SQLAlchemy's default 5 was opened and closed per use.
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=12, max_overflow=20)


def _configure_sqlite(busy_timeout: float, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # An in-memory database answers "memory" here and carries on.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def run_transaction(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction; if SQLite stays locked past its busy timeout, run it again.

    Safe because a failed attempt rolled back completely; `work` must keep its
    effects inside the session (it may run more than once).
    """
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            with transaction(engine) as session:
                return work(session)
        except OperationalError as error:
            if not is_locked(error) or attempt == BUSY_ATTEMPTS:
                raise
            log.warning("database locked; trying the transaction again (%d)", attempt)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def is_locked(error: OperationalError) -> bool:
    """SQLite's "database is locked" / "database table is locked"."""
    return "is locked" in str(error.orig)
