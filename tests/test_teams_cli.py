"""`salescoach teams list`: the ids an admin gives `salescoach digest --team ID`."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import Membership, User
from storage.teams import create_team, join_team


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'teams.db'}"
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for variable in ("SALESCOACH_LOG_LEVEL", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SALESCOACH_DATABASE_URL", url)
    return url


def column(line: str, text: str) -> int:
    """Where `text` starts on screen, in terminal columns."""
    before = line[: line.index(text)]
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in before)


def person(name: str, platform_id: str) -> User:
    return User(platform="telegram", platform_user_id=platform_id, display_name=name)


def seed(url: str) -> None:
    database = make_engine(url)
    upgrade(database)
    with transaction(database) as session:
        wang, li = person("王芳", "1"), person("Li Lei", "2")
        reps = [person(name, str(3 + index)) for index, name in enumerate(["陈喆", "Mei", "Wei"])]
        for user in [wang, li, *reps]:
            session.add(user)
        session.flush()
        east = create_team(session, wang, "华东一组")
        session.add(Membership(team_id=east.id or 0, user_id=li.id or 0, role="manager"))
        for rep in reps:
            join_team(session, rep, east.id or 0)
        create_team(session, li, "North")  # a manager's second team, nobody in it yet
    database.dispose()


def test_lists_every_team_with_managers_and_members(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database_url)
    assert main(["teams", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "TEAM", "MANAGERS", "MEMBERS"]
    assert lines[1].split() == ["1", "华东一组", "王芳,", "Li", "Lei", "3"]
    assert lines[2].split() == ["2", "North", "Li", "Lei", "0"]
    # Columns line up on screen: a Chinese character is two columns wide.
    assert column(lines[1], "王芳") == column(lines[2], "Li Lei") == column(lines[0], "MANAGERS")
    assert column(lines[1], "3") == column(lines[2], "0") == column(lines[0], "MEMBERS")
    assert "salescoach digest --team ID" in out


def test_json_for_scripts(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed(database_url)
    assert main(["teams", "list", "--json"]) == 0
    teams = json.loads(capsys.readouterr().out)
    assert teams == [
        {"id": 1, "name": "华东一组", "managers": ["王芳", "Li Lei"], "members": 3},
        {"id": 2, "name": "North", "managers": ["Li Lei"], "members": 0},
    ]


def test_a_database_without_teams_says_so(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["teams", "list"]) == 0  # a fresh file: migrated, and empty
    captured = capsys.readouterr()
    assert captured.out.strip() == "No teams yet: a manager creates one with /newteam."
