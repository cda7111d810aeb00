"""The declarative parts of a dialog: steps, options, dialogs and commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from sqlmodel import Session

from dialogs.core.callbacks import ActionData
from dialogs.core.io import Outgoing
from dialogs.core.texts import Texts, format_when
from dialogs.core.timezones import zone_for
from playbooks.loader import load_playbooks
from playbooks.schema import Playbooks
from storage.models import User
from understanding.readers import Understanding


class AnswerKind(StrEnum):
    """How a step's answer is read and validated."""

    TEXT = "text"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    NUMBER = "number"
    SCALE = "scale"  # a whole number from 1 to 10
    DATETIME = "datetime"
    YES_NO = "yes_no"


@dataclass(frozen=True)
class Option:
    """One choice offered by a step: a short key and the text on its button."""

    key: str
    label: str  # a locale key, or the text itself when `literal`
    literal: bool = False


@dataclass
class Services:
    """What dialogs may need from the world around them."""

    # Turns an invite code into something the user can share (a t.me link in Telegram).
    invite_link: Callable[[str], str] = lambda code: f"/start join_{code}"
    # The engine's commands, for help texts and menus.
    commands: list[Command] = field(default_factory=list)
    # Action buttons by prefix letter (e.g. "r" for reminders).
    actions: dict[str, Action] = field(default_factory=dict)
    # The coaching content; the defaults unless a company directory was loaded.
    playbooks: Playbooks = field(default_factory=load_playbooks)
    # The models that read people's words (objections, objectives, free text).
    understanding: Understanding = field(default_factory=Understanding)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """Everything a step's callables may look at while one input is handled."""

    session: Session
    user: User
    data: dict[str, Any]
    t: Texts
    now: datetime
    services: Services

    @property
    def zone(self) -> tzinfo:
        """The user's time zone."""
        return zone_for(self.user.timezone)

    @property
    def playbooks(self) -> Playbooks:
        """The coaching content."""
        return self.services.playbooks

    def format_when(self, moment: datetime) -> str:
        """A stored (UTC) moment shown in the user's zone and language."""
        return format_when(moment.astimezone(self.zone), self.t)

    def local(self, text: Any) -> str:
        """Playbook text (anything with `.get(language)`) in the user's language."""
        return str(text.get(self.user.language))


Predicate = Callable[[Context], bool]
Validator = Callable[[Context, Any], str | None]
NextStep = str | Callable[[Context, Any], str | None] | None
Options = Sequence[Option] | Callable[[Context], Sequence[Option]]

# The step id meaning "the dialog is complete".
END = "__end__"


@dataclass(frozen=True)
class Step:
    """One question: how it is asked, how its answer is read, and where it leads."""

    id: str
    prompt: str  # locale key, rendered with `prompt_values(ctx)` and the dialog's data
    kind: AnswerKind = AnswerKind.TEXT
    options: Options = ()
    optional: bool = False
    accepts_text: bool = False  # a choice step that also takes a typed answer
    columns: int = 1
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 2000
    validate: Validator | None = None  # returns an error's locale key, or None
    store: Callable[[Context, Any], None] | None = None  # default: data[step.id] = value
    next: NextStep = None  # default: the following step
    when: Predicate | None = None  # ask only when this holds
    prompt_values: Callable[[Context], dict[str, Any]] | None = None


@dataclass(frozen=True)
class Dialog:
    """A conversation: its steps in order and what happens when it completes."""

    id: str
    steps: tuple[Step, ...]
    finish: Callable[[Context], list[Outgoing]]
    # Runs when the dialog starts, with the command's arguments; it may seed
    # data, return messages to show first, or raise StopDialog not to start.
    begin: Callable[[Context, str], list[Outgoing]] | None = None

    def step(self, step_id: str) -> Step | None:
        """The step with this id."""
        return next((step for step in self.steps if step.id == step_id), None)

    def following(self, step_id: str) -> str:
        """The id of the step after `step_id` in declaration order, or END."""
        ids = [step.id for step in self.steps]
        index = ids.index(step_id)
        return ids[index + 1] if index + 1 < len(ids) else END


class Turn(Protocol):
    """What an action button's handler may do besides reading the context."""

    ctx: Context

    def start_dialog(self, dialog_id: str, args: str) -> list[Outgoing]:
        """Start a dialog, as its command would."""
        ...


# Handles a button that acts on an object outside any dialog (a reminder's Done).
Action = Callable[[Turn, ActionData], list[Outgoing]]


class StopDialog(Exception):
    """Raised by a dialog's `begin` to not start, showing `replies` instead."""

    def __init__(self, replies: list[Outgoing]) -> None:
        super().__init__("dialog not started")
        self.replies = replies


@dataclass(frozen=True)
class Command:
    """A slash command: either starts a dialog or answers at once."""

    name: str
    help: str  # locale key of the one-line description
    dialog: str | None = None
    run: Callable[[Context, str], list[Outgoing]] | None = None
    roles: frozenset[str] | None = None  # None: everyone
    menu: bool = True
    before_onboarding: bool = False  # usable before the user has finished /start
