"""Shared fixtures: a migrated database per test, and an engine over it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.steps import Services
from storage.db import make_engine, normalise_url
from storage.migrate import upgrade

# A fixed "now" for dialogs: Monday 23 November 2026, 09:00 UTC.
FIXED_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated SQLite database file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database: Database) -> Engine:
    """The product's dialog engine on the test database, with a fixed clock."""
    return Engine(
        database,
        dialogs=DIALOGS,
        commands=COMMANDS,
        actions=ACTIONS,
        services=Services(invite_link=lambda code: f"https://t.me/test_bot?start=join_{code}"),
        clock=lambda: FIXED_NOW,
    )


def postgres_url() -> str | None:
    """The PostgreSQL URL for tests, when the environment provides one."""
    return os.environ.get("SALESCOACH_TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test runs twice: on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'any.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A brand-new, migrated PostgreSQL database for one test, dropped afterwards."""
    url = postgres_url()
    if url is None:
        pytest.skip("SALESCOACH_TEST_DATABASE_URL is not set")
    server = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    name = f"salescoach_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = (
        make_url(normalise_url(url)).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield database_url
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
