"""Migrations build the schema on an empty SQLite database and an empty PostgreSQL one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from storage.db import make_engine
from storage.migrate import current_revision, head_revision, upgrade

TABLES = {"users", "teams", "memberships", "invite_codes", "dialog_states", "alembic_version"}


def test_sqlite_upgrade_from_empty(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) == head_revision(engine)
    upgrade(engine)  # running again is a no-op
    assert current_revision(engine) == head_revision(engine)


def test_debriefs_keep_the_coachs_judgement_beside_the_reps_claim(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'judged.db'}")
    upgrade(engine)
    columns = {column["name"]: column for column in inspect(engine).get_columns("debriefs")}
    assert "outcome" in columns and columns["judged_outcome"]["nullable"]
    assert (current_revision(engine) or "") >= "0007"


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_postgres_upgrade_from_empty(postgres_database: str) -> None:
    engine = make_engine(postgres_database)
    assert current_revision(engine) is None
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()


def test_opportunities_and_their_history_have_tables(any_database: str) -> None:
    engine = make_engine(any_database)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"opportunities", "opportunity_changes"} <= tables
    columns = {column["name"] for column in inspect(engine).get_columns("opportunities")}
    assert {"value_minor", "currency", "close_month", "stage", "stage_entered_at"} <= columns
    assert (current_revision(engine) or "") >= "0010"
    engine.dispose()
