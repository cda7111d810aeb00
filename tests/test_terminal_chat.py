"""`salescoach chat` as a user runs it: a subprocess driven through stdin."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def run_chat(tmp_path: Path, lines: list[str], language: str = "en_GB.UTF-8") -> str:
    env = {
        **os.environ,
        "SALESCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}",
        "LANG": language,
        "LC_ALL": "",
        "SALESCOACH_LANGUAGE": "",
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "meilin"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_terminal_onboarding_in_english(tmp_path: Path) -> None:
    output = run_chat(tmp_path, ["1", "2", "UTC+8", "/skip", "/whoami", "/quit"])
    assert "Hi! I'm SalesCoach" in output
    assert "  1. meilin" in output
    assert "  2. Sales manager" in output
    assert "All set, meilin!" in output
    assert "Time zone: UTC+8" in output
    assert "<b>" not in output  # HTML is rendered as plain text
    with sqlite3.connect(tmp_path / "chat.db") as connection:
        row = connection.execute("SELECT role, timezone, platform FROM users").fetchone()
    assert row == ("manager", "Etc/GMT-8", "terminal")


def test_terminal_onboarding_in_chinese_and_resume(tmp_path: Path) -> None:
    first = run_chat(tmp_path, ["美琳", "1"], language="zh_CN.UTF-8")
    assert "你好！我是 SalesCoach" in first
    assert "你在哪个时区工作" in first
    # Closed mid-onboarding: the next session goes on from the same question.
    second = run_chat(tmp_path, ["1", "/skip"], language="zh_CN.UTF-8")
    assert "设置完成，美琳" in second
