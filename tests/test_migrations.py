"""Migrations build the schema on an empty SQLite database and an empty PostgreSQL one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from storage.db import make_engine, normalise_url
from storage.migrate import current_revision, head_revision, upgrade
from tests.conftest import postgres_url

TABLES = {"users", "teams", "memberships", "invite_codes", "dialog_states", "alembic_version"}


def test_sqlite_upgrade_from_empty(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) == head_revision(engine)
    upgrade(engine)  # running again is a no-op
    assert current_revision(engine) == head_revision(engine)


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards."""
    url = postgres_url()
    if url is None:
        pytest.skip("SALESCOACH_TEST_DATABASE_URL is not set")
    server = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    name = f"salescoach_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_postgres_upgrade_from_empty(empty_postgres: str) -> None:
    engine = make_engine(empty_postgres)
    assert current_revision(engine) is None
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
