"""Role-play in threes in the terminal: three `salescoach chat --user` sessions on one database."""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import Engine as Database
from sqlmodel import Session, col, select

from bot.terminal import chat
from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core.engine import Engine
from dialogs.core.io import Sender
from dialogs.core.steps import Services
from storage.db import transaction
from storage.models import TrioRound, User, utcnow
from tests.conftest import FIXED_NOW

# Items 1–7 are on the form's first page: their 7s are the 1st, 4th, 7th… coded buttons.
SEVENS = ("a", "d", "g", "j", "m", "p", "s")
PAGE, FINISH = "v", "y"  # after the 21 score buttons: page, Comment, Clock, Finish, Leave


def session_of(engine: Engine, name: str, lines: list[str], files: Path) -> str:
    """What one terminal session shows for `lines` typed in it."""
    out = io.StringIO()
    sender = Sender("terminal", name, name, "en")
    chat(engine, sender, io.StringIO("\n".join(lines) + "\n"), out, poll_interval=0.01, files=files)
    return out.getvalue()


def test_three_terminal_sessions_play_a_round(database: Database, tmp_path: Path) -> None:
    engine = Engine(
        database,
        dialogs=DIALOGS,
        commands=COMMANDS,
        actions=ACTIONS,
        services=Services(invite_link=lambda code: f"/join {code}"),  # as bot/terminal.py
        clock=lambda: FIXED_NOW,
    )
    with transaction(database) as session:
        for name in ("ann", "ben", "cai"):
            session.add(
                User(
                    platform="terminal",
                    platform_user_id=name,
                    display_name=name.title(),
                    role="trainee",
                    onboarded_at=utcnow(),
                    quiet_start="00:00",
                    quiet_end="00:00",
                )
            )
    shown = session_of(engine, "ann", ["/trio", "1"], tmp_path)
    code = re.search(r"/trio ([A-Z0-9]{6})", shown).group(1)  # type: ignore[union-attr]
    assert "t.me" not in shown  # no links in a terminal: the code to type
    assert "(2/3)" in session_of(engine, "ben", [f"/trio {code}"], tmp_path)
    presses = (
        [f"1{letter}" for letter in SEVENS] + [f"1{PAGE}"] + [f"1{letter}" for letter in SEVENS]
    )
    shown = session_of(engine, "cai", [f"/trio {code}", *presses, f"1{FINISH}"], tmp_path)
    assert "you are the observer" in shown and "1a ✔ 1: 7" in shown and "1a ✔ 8: 7" in shown
    assert "Round 1 saved: 98/98 for Ann" in shown and "you are the customer" in shown
    shown = session_of(engine, "ann", [], tmp_path)
    # Ann opens her session after round 1: her form, and round 2's card (not round 1's).
    assert "Total: 98/98" in shown and "you are the observer" in shown
    assert "you are the rep" not in shown
    with Session(database) as session:
        [played] = session.exec(select(TrioRound).where(col(TrioRound.total).is_not(None)))
        assert played.total == 98
