"""`salescoach chat` as a user runs it: a subprocess driven through stdin."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def run_chat(
    tmp_path: Path, lines: list[str], language: str = "en_GB.UTF-8", user: str = "meilin"
) -> str:
    env = {
        **os.environ,
        "SALESCOACH_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}",
        "LANG": language,
        "LC_ALL": "",
        "SALESCOACH_LANGUAGE": "",
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", user],
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


ONBOARD_ZH = ["1", "1", "1", "/skip"]  # the login name, sales rep, Shanghai, no team


def test_followup_buttons_are_coded_per_item_so_a_typed_choice_is_unambiguous(
    tmp_path: Path,
) -> None:
    output = run_chat(
        tmp_path,
        [
            *ONBOARD_ZH,
            "/remind 明天上午9点 给王总发报价",
            "/remind 明天上午10点 约李经理吃饭",
            "/remind 后天下午3点 寄样品",
            "/followups",
            "完成",  # three items have a 完成 button: it asks which, and completes none
            "2a",  # the second item's 完成
            "/followups",
            "/quit",
        ],
        language="zh_CN.UTF-8",
    )
    listing = output.split("待办跟进（3 项）", 1)[1]
    assert "  1a ✅ 完成   1b 😴" in listing
    assert "  2a ✅ 完成   2b 😴" in listing
    assert "  3c 🌅 明早 9 点   3d 🕒 选个时间…" in listing
    hints = listing.split("3d 🕒 选个时间…", 1)[1].split("已完成", 1)[0]
    assert "1a ✅ 完成 — " in hints and "给王总发报价" in hints
    assert "2a ✅ 完成 — " in hints and "3a ✅ 完成 — " in hints
    assert "✅ 已完成：约李经理吃饭" in output
    with sqlite3.connect(tmp_path / "chat.db") as connection:
        rows = connection.execute("SELECT text, status FROM follow_ups ORDER BY due_at").fetchall()
    assert rows == [("给王总发报价", "open"), ("约李经理吃饭", "done"), ("寄样品", "open")]
    assert "待办跟进（2 项）" in output


def test_each_user_gets_their_own_files_folder(tmp_path: Path) -> None:
    onboarding = ["1", "1", "UTC+8", "/skip"]
    first = run_chat(tmp_path, [*onboarding, "/mydata", "/quit"], user="meilin")
    second = run_chat(tmp_path, [*onboarding, "/mydata", "/quit"], user="wei")
    assert "📎 salescoach-files/meilin/salescoach-data.json" in first
    assert "📎 salescoach-files/wei/salescoach-data.json" in second
    meilin = tmp_path / "salescoach-files" / "meilin" / "salescoach-data.json"
    wei = tmp_path / "salescoach-files" / "wei" / "salescoach-data.json"
    assert '"meilin"' in meilin.read_text(encoding="utf-8")
    assert '"wei"' in wei.read_text(encoding="utf-8")
    assert '"meilin"' not in wei.read_text(encoding="utf-8")
