"""Shared fixtures: a migrated database per test, and an engine over it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.engine import Engine
from dialogs.steps import Services
from storage.db import make_engine
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
