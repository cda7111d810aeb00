"""A corpus of bad input thrown at every kind of step, in the engine.

Each station is a dialog stopped at one step (text, choice, multi-choice, number,
scale, date/time, yes/no) of onboarding, /visit, /debrief, /settings, /objection or
/account. Every input of the corpus is sent there; each must be answered without an
exception, in the user's language, leave the stored dialog state as it was (unless
it is a valid answer), and the step's valid answer must still be taken afterwards.
The state is put back between inputs, so one user per station sees the whole corpus.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import text
from sqlmodel import Session, select

from dialogs.catalog import ACTIONS, COMMANDS, DIALOGS
from dialogs.core import callbacks
from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, InputKind
from dialogs.core.steps import AnswerKind, Services
from dialogs.field.objection_dialog import MAX_WORDS
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import User
from tests.conftest import FIXED_NOW
from tests.helpers import Chat
from tests.test_debrief import plan_visit
from tests.test_visit import add_account

# ----- the corpus ------------------------------------------------------------------------

ODD_DIGITS = ["①", "⑩", "²", "½", "Ⅲ", "1①", "①:00"]
WIDE_DIGITS = ["１", "１０", "٣"]
INVISIBLE = ["\u200b", "ㅤ", "\ufeff", "\u3000", "\u202e", "\u200b ㅤ\u2060"]
FILLER = [".", "…", "!!!"]
EMOJI = ["😀", "👨‍👩‍👧"]
LONG = ["a" * 5000, "&<>\"'" * 1000]
HTML = ["<b>bold</b>", "<script>alert(1)</script>", "&amp;", "&<>\"'"]
NUMBERS = ["-1", "1.5", "1,5", "1e3", "99999999999999999999"]
DATES = ["2026-02-30", "yesterday", "明天下午25点", "next blursday"]
COMMANDS_MID_DIALOG = ["/help", "/whoami", "/nosuch", "/ help"]
MEDIA = ["photo", "sticker", "location"]
TYPED: dict[str, list[str]] = {
    "odd_digits": ODD_DIGITS,
    "wide_digits": WIDE_DIGITS,
    "invisible": INVISIBLE,
    "filler": FILLER,
    "emoji": EMOJI,
    "long": LONG,
    "html": HTML,
    "numbers": NUMBERS,
    "dates": DATES,
    "commands": COMMANDS_MID_DIALOG,
}


def button_inputs(version: int, key: str) -> list[tuple[str, Incoming]]:
    """Forged and stale button data, made from the open prompt's version and one of its keys."""
    payloads = [
        callbacks.encode(version - 1, key),  # an older message's button
        callbacks.encode(version + 7, key),  # a version never shown
        callbacks.encode(version - 1, "~cancel"),
        callbacks.encode(version, "zz9"),  # a key this question never offered
        callbacks.encode(version, "a999999"),  # someone else's account
        "",
        f"v{version}:客户",
        "@d999999:view",  # action buttons for things that do not exist
        "@r999999:done",
    ]
    return [("buttons", Incoming.pressed(payload)) for payload in payloads]


def corpus(version: int, key: str, command: str) -> list[tuple[str, Incoming]]:
    typed = [(family, Incoming.typed(text)) for family, texts in TYPED.items() for text in texts]
    media = [("media", Incoming.unsupported(kind)) for kind in MEDIA]
    again = [("commands", Incoming.typed(command))]  # the open dialog's own command
    return [*typed, *media, *again, *button_inputs(version, key)]


# ----- what counts as a valid answer, written apart from the code under test ------------

Accepts = Callable[[str, int], bool]  # (typed text, options offered) -> valid?
FILLERS = "\u3164\u115f\u1160\uffa0"


def visible(text: str) -> str:
    hidden = ("Cf", "Zs")
    return "".join(c for c in text if unicodedata.category(c) not in hidden and c not in FILLERS)


def nothing(_text: str, _count: int) -> bool:
    return False


def pick(text: str, count: int) -> bool:
    """The number of one of the options (in any script's decimal digits)."""
    return text.strip().isdecimal() and 1 <= int(text.strip()) <= count


def picks(text: str, count: int) -> bool:
    parts = [part for part in re.split(r"[,，、;；\s]+", text.strip()) if part]
    return bool(parts) and all(pick(part, count) for part in parts)


def lettered(limit: int) -> Accepts:
    """A name or an objective: a letter (any script) that shows, within the length limit."""
    return lambda text, _count: (
        len(text.strip()) <= limit and any(c.isalpha() for c in visible(text))
    )


def free_text(limit: int) -> Accepts:
    return lambda text, _count: len(text.strip()) <= limit and bool(visible(text).strip())


def minutes(text: str, _count: int) -> bool:
    try:
        number = float(text)
    except ValueError:
        return False
    return number.is_integer() and 0 <= number <= 1440


def clock(text: str, _count: int) -> bool:
    hours, _, mins = text.strip().partition(":")
    if not hours.isdecimal() or (mins and not mins.isdecimal()):
        return False
    return int(hours) <= 23 and int(mins or 0) <= 59


def either(*accepts: Accepts) -> Accepts:
    return lambda text, count: any(accept(text, count) for accept in accepts)


def listed(*texts: str) -> Accepts:
    return lambda text, _count: text in texts


# ----- stations: a user stopped at one step ----------------------------------------------


@dataclass(frozen=True)
class Station:
    """A dialog stopped at `step`; `valid` is an answer it takes, `accepts` what else is."""

    name: str
    language: str
    dialog: str
    step: str
    setup: Callable[[Chat, Database], None]
    valid: str
    command: str
    accepts: Accepts = nothing


def onboard(chat: Chat, _database: Database) -> None:
    if chat.sender.language_code == "zh":
        chat.onboard(role="销售代表", zone="上海")
    else:
        chat.onboard()


def zh(chat: Chat, chinese: str, english: str) -> str:
    return chinese if chat.sender.language_code == "zh" else english


def start(chat: Chat, _database: Database) -> None:
    chat.say("/start")


def to_role(chat: Chat, database: Database) -> None:
    start(chat, database)
    chat.say(zh(chat, "李雷", "Li Lei"))


def to_team(chat: Chat, database: Database) -> None:
    to_role(chat, database)
    chat.say("1")
    chat.say("1")


def with_account(chat: Chat, database: Database) -> str:
    onboard(chat, database)
    name = zh(chat, "华信钢铁", "Huaxin Steel")
    add_account(database, name, user_id=chat.sender.user_id)
    return name


def to_visit_account(chat: Chat, database: Database) -> None:
    with_account(chat, database)
    chat.say("/visit")


def to_visit_when(chat: Chat, database: Database) -> None:
    chat.say(f"/visit {with_account(chat, database)}")


def to_visit_objective(chat: Chat, database: Database) -> None:
    to_visit_when(chat, database)
    chat.say(zh(chat, "明天下午3点", "tomorrow 3pm"))
    chat.say("yes")
    chat.say(zh(chat, "王总", "Director Wang"))
    chat.say("1")


def to_visit_questions(chat: Chat, database: Database) -> None:
    to_visit_objective(chat, database)
    chat.say("Director Wang signs the trial agreement")
    for _ in range(3):  # territory, lead, strategy
        chat.say("1")


def to_debrief_feelings(chat: Chat, database: Database) -> None:
    onboard(chat, database)
    plan_visit(database, user_id=chat.sender.user_id)
    chat.say("/debrief")
    chat.say("1")  # the planned visit


def to_debrief_outcome(chat: Chat, database: Database) -> None:
    to_debrief_feelings(chat, database)
    chat.say(zh(chat, "一开始很紧张。", "Tense at first."))
    chat.say("1")  # keep the objective
    chat.say(zh(chat, "先讲案例，再提试用", "Show the cost comparison, then ask for the trial."))
    chat.say(zh(chat, "王总说考虑一下", "He liked the numbers."))
    chat.say(zh(chat, "他需要先和财务商量", "The budget is decided in January."))


def to_settings(choice: str) -> Callable[[Chat, Database], None]:
    def setup(chat: Chat, database: Database) -> None:
        onboard(chat, database)
        chat.say("/settings")
        chat.say(choice)

    return setup


def to_objection(chat: Chat, database: Database) -> None:
    onboard(chat, database)
    chat.say("/objection")


def to_account_picker(chat: Chat, database: Database) -> None:
    with_account(chat, database)
    chat.say("/account")


def to_account_scale(chat: Chat, database: Database) -> None:
    onboard(chat, database)
    chat.say(f"/account {zh(chat, '华信钢铁', 'Huaxin Steel')}")
    for _ in range(5):  # industry, stage, customer type, contribution, stability
        chat.say("1")


def to_account_yes_no(chat: Chat, database: Database) -> None:
    to_account_scale(chat, database)
    chat.say("5")
    chat.say("5")


def to_contact_name(chat: Chat, database: Database) -> None:
    to_account_yes_no(chat, database)
    chat.say("yes")


STATIONS = [
    Station("onboarding name (choice or text)", "en", "onboarding", "name", start, "Anna",
            "/start", either(pick, lettered(64))),
    Station("onboarding role (choice)", "zh", "onboarding", "role", to_role, "1", "/start",
            pick),
    Station("onboarding invite (optional text)", "en", "onboarding", "team", to_team, "/skip",
            "/start"),
    Station("visit account picker", "zh", "visit", "account", to_visit_account, "1", "/visit",
            either(pick, lettered(120))),
    Station("visit date and time", "en", "visit", "when", to_visit_when, "tomorrow 3pm",
            "/visit"),
    Station("visit objective (text)", "zh", "visit", "objective", to_visit_objective,
            "王总同意试用两周", "/visit", lettered(300)),
    Station("visit questions (multi-choice)", "en", "visit", "questions", to_visit_questions,
            "1 5", "/visit", picks),
    Station("debrief feelings (text)", "en", "debrief", "feelings", to_debrief_feelings,
            "Tense at first.", "/debrief", free_text(2000)),
    Station("debrief outcome (choice)", "zh", "debrief", "outcome", to_debrief_outcome, "1",
            "/debrief", pick),
    Station("settings lead time (number)", "en", "settings", "brief", to_settings("1"), "30",
            "/settings", minutes),
    Station("settings quiet hours (clock)", "zh", "settings", "quiet_start", to_settings("3"),
            "21:00", "/settings", clock),
    # The objection reader takes a Roman numeral for words it cannot place (it then
    # offers every type); anything with letters is words to classify.
    Station("objection words", "en", "objection", "first", to_objection, "1", "/objection",
            either(pick, lettered(MAX_WORDS), listed("Ⅲ"))),
    Station("account picker", "zh", "account", "account", to_account_picker, "1", "/account",
            either(pick, lettered(120))),
    Station("account value (scale)", "zh", "account", "short_term", to_account_scale, "7",
            "/account", pick),
    Station("account contact (yes/no)", "en", "account", "add_contact", to_account_yes_no,
            "yes", "/account"),
    Station("account contact name (text)", "en", "account", "contact_name", to_contact_name,
            "Director Wang", "/account", free_text(80)),
]  # fmt: skip


# ----- the run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Database]]:
    """One migrated database for the whole corpus; each station has its own user."""
    path: Path = tmp_path_factory.mktemp("corpus") / "corpus.db"
    database = make_engine(f"sqlite:///{path}")
    upgrade(database)
    engine = Engine(
        database,
        dialogs=DIALOGS,
        commands=COMMANDS,
        actions=ACTIONS,
        services=Services(invite_link=lambda code: f"https://t.me/test_bot?start=join_{code}"),
        clock=lambda: FIXED_NOW,
    )
    yield engine, database
    database.dispose()


Snapshot = tuple[str | None, str | None, str, str, int]
_COLUMNS = "dialog, step, data, history, version"


def snapshot(database: Database, user_id: int) -> Snapshot:
    """The user's dialog_state row: dialog, step, data, history, version."""
    with database.connect() as connection:
        row = connection.execute(
            text(f"SELECT {_COLUMNS} FROM dialog_states WHERE user_id = :id"), {"id": user_id}
        ).one()
    return row[0], row[1], row[2], row[3], row[4]


def restore(database: Database, user_id: int, saved: Snapshot) -> None:
    """Put the row back, so the next input meets the same question."""
    with database.begin() as connection:
        connection.execute(
            text(
                "UPDATE dialog_states SET dialog = :dialog, step = :step, data = :data,"
                " history = :history, version = :version WHERE user_id = :id"
            ),
            dict(
                zip(("dialog", "step", "data", "history", "version"), saved, strict=True),
                id=user_id,
            ),
        )


def internal_id(database: Database, chat: Chat) -> int:
    with Session(database) as session:
        user = session.exec(select(User).where(User.platform_user_id == chat.sender.user_id))
        return user.one().id or 0


def same_answer_state(before: Snapshot, after: Snapshot) -> bool:
    """Dialog, step, collected data and history unchanged (the prompt version may move)."""
    same_data = json.loads(before[2]) == json.loads(after[2])
    return before[:2] == after[:2] and same_data and before[3] == after[3]


_CJK = re.compile(r"[\u3400-\u9fff]")


def in_language(text: str, language: str, sent: str) -> bool:
    if language == "zh":
        return bool(_CJK.search(text))
    # English: no Chinese, unless the input itself was Chinese (it may be echoed).
    return bool(re.search(r"[A-Za-z]{3}", text)) and (_CJK.search(sent) or not _CJK.search(text))


def option_keys(chat: Chat) -> list[str]:
    """The keys of the open question's buttons (controls such as ~cancel last)."""
    pressed = [
        callbacks.decode(button.data)
        for reply in chat.replies[-1:]
        for row in reply.buttons
        for button in row
    ]
    keys = [item.key for item in pressed if item is not None]
    return sorted(keys, key=lambda key: key.startswith("~"))


def describe(incoming: Incoming) -> str:
    shown = incoming.text or incoming.command or incoming.payload or incoming.media or ""
    return f"{incoming.kind}:{shown[:30]!r}"


@pytest.mark.parametrize("station", STATIONS, ids=[station.name for station in STATIONS])
def test_bad_input_changes_nothing(shared: tuple[Engine, Database], station: Station) -> None:
    engine, database = shared
    name = "李雷" if station.language == "zh" else "Li Lei"
    chat = Chat(engine, str(80000 + STATIONS.index(station)), name, station.language)
    station.setup(chat, database)
    user_id = internal_id(database, chat)
    saved = snapshot(database, user_id)
    assert saved[:2] == (station.dialog, station.step), chat.text
    keys = option_keys(chat)
    options = len([key for key in keys if not key.startswith("~")])
    problems: list[str] = []
    for family, incoming in corpus(saved[4], keys[0], station.command):
        label = f"{family} {describe(incoming)}"
        replies = chat.send(incoming)
        after = snapshot(database, user_id)
        sent = incoming.text if incoming.kind is InputKind.TEXT else ""
        if not replies or not all(in_language(r.text, station.language, sent) for r in replies):
            problems.append(f"{label}: not answered in {station.language}: {chat.text[:80]!r}")
        valid = bool(sent) and station.accepts(sent, options)
        if same_answer_state(saved, after) == valid:
            problems.append(f"{label}: {'refused' if valid else 'accepted'} ({after[1]})")
        if after != saved:
            restore(database, user_id, saved)
        chat.say(station.valid)
        if same_answer_state(saved, snapshot(database, user_id)):
            problems.append(f"{label}: the valid answer was refused next: {chat.text[:80]!r}")
        restore(database, user_id, saved)
    assert not problems, "\n".join(problems)


def test_the_corpus_covers_every_step_kind() -> None:
    dialogs = {dialog.id: dialog for dialog in DIALOGS}
    kinds = set()
    for station in STATIONS:
        step = dialogs[station.dialog].step(station.step)
        assert step is not None, station.name
        kinds.add(step.kind)
    assert kinds == set(AnswerKind)
    assert {station.dialog for station in STATIONS} >= {
        "onboarding", "visit", "debrief", "settings", "objection", "account"
    }  # fmt: skip
    assert len(corpus(5, "k", "/x")) * len(STATIONS) >= 300
