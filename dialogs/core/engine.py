"""The dialog engine: one input in, messages out, one database transaction per input.

It knows nothing of any chat platform. Adapters turn platform updates into
`Incoming` and send back the `Outgoing` messages it returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine as Database
from sqlmodel import Session

from dialogs.core import callbacks
from dialogs.core.answers import (
    Parsed,
    option_label,
    read_choice,
    read_multi_choice,
    read_number,
    read_scale,
    read_text,
    read_yes_no,
)
from dialogs.core.dates import HORIZON_YEARS, Outcome, Reason, read_when
from dialogs.core.io import Button, Incoming, InputKind, Outgoing, Sender
from dialogs.core.steps import (
    END,
    Action,
    AnswerKind,
    Command,
    Context,
    Dialog,
    Option,
    Services,
    Step,
    StopDialog,
)
from dialogs.core.texts import Texts, format_when
from playbooks.locales import language_for
from storage.db import run_transaction
from storage.dialog_state import load_state, save_state
from storage.models import DialogState, User, utcnow
from storage.users import get_or_create_user

# Button keys the engine itself understands; option keys never start with "~".
BACK, SKIP, CANCEL, DONE, YES, NO = "~back", "~skip", "~cancel", "~done", "~yes", "~no"
CONTROL_COMMANDS = {"back": BACK, "skip": SKIP, "cancel": CANCEL}
ONBOARDING = "onboarding"
# Why a typed time can't be used, for a date step, with an example of what works.
_WHEN_PROBLEMS = {
    Reason.HOUR: "reminders.when_which_hour",
    Reason.HORIZON: "reminders.refused_horizon",
    Reason.INVALID: "reminders.refused_invalid",
    Reason.AMBIGUOUS: "reminders.refused_ambiguous",
}
FRONT_DOOR = "front_door"  # the dialog that reads text typed outside any conversation
# "/join CODE", pasted as the invite shows it, answers onboarding's invite question.
JOIN, INVITE_STEP = "join", "team"
PENDING_WHEN = "_pending_when"
SUSPENDED = "_suspended"  # the dialog set aside while this one runs
# Work a front end adds to a turn's transaction: (session, the turn's replies).
Within = Callable[[Session, list[Outgoing]], None]


class Engine:
    """Runs declared dialogs and commands for users of one platform."""

    def __init__(
        self,
        database: Database,
        *,
        dialogs: Sequence[Dialog],
        commands: Sequence[Command],
        actions: Mapping[str, Action] | None = None,
        services: Services | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.dialogs = {dialog.id: dialog for dialog in dialogs}
        self.commands = {command.name: command for command in commands}
        self.services = services or Services()
        self.services.commands = list(commands)
        self.services.actions = dict(actions or {})
        self.clock = clock

    def context_for(self, session: Session, user: User) -> Context:
        """A context for work outside a conversation turn (composing a reminder)."""
        return Context(
            session=session,
            user=user,
            data={},
            t=Texts(user.language),
            now=self.clock(),
            services=self.services,
        )

    def handle(
        self, sender: Sender, incoming: Incoming | None, *, within: Within | None = None
    ) -> list[Outgoing]:
        """Answer one input; the answer and the new state commit together or not at all.

        `None` means "the user is back" (a terminal session opening): repeat the
        open question, start onboarding, or greet them. `within` runs in the
        turn's transaction with its replies, before the commit: a front end
        marks the input handled and queues the replies there, so the three
        are saved together (raising rolls the whole turn back).
        """
        if not sender.private_chat:
            replies = [Outgoing(Texts(language_for(sender.language_code))("common.group_only"))]
            if within is not None:
                run_transaction(self.database, lambda session: within(session, replies))
            return replies

        def turn(session: Session) -> list[Outgoing]:
            replies = self._turn(session, sender, incoming)
            if within is not None:
                within(session, replies)
            return replies

        return run_transaction(self.database, turn)

    def _turn(self, session: Session, sender: Sender, incoming: Incoming | None) -> list[Outgoing]:
        user = get_or_create_user(
            session,
            sender.platform,
            sender.user_id,
            display_name=sender.display_name,
            language=language_for(sender.language_code),
        )
        if not user.active:
            user.active = True  # they wrote to us, so they can hear from us again
        state = load_state(session, user.id or 0, for_update=True)
        ctx = Context(
            session=session,
            user=user,
            data=json.loads(state.data),
            t=Texts(user.language),
            now=self.clock(),
            services=self.services,
        )
        replies = _Turn(self, ctx, state).run(incoming)
        save_state(session, state)
        return replies


class _Turn:
    """The handling of one input for one user."""

    def __init__(self, engine: Engine, ctx: Context, state: DialogState) -> None:
        self.engine = engine
        self.ctx = ctx
        self.state = state

    @property
    def t(self) -> Texts:
        # Read through the context: a dialog may switch the user's language.
        return self.ctx.t

    # ----- dispatch -------------------------------------------------------

    def run(self, incoming: Incoming | None) -> list[Outgoing]:
        if incoming is None:
            return self.resume()
        if incoming.kind is InputKind.COMMAND:
            return self.on_command(incoming.command or "", incoming.text)
        if incoming.kind is InputKind.BUTTON:
            return self.on_button(incoming.payload)
        if incoming.kind is InputKind.UNSUPPORTED:
            if self.dialog is None:
                return [Outgoing(self.t("common.only_text"))]
            return [Outgoing(self.t("errors.need_text")), *self.prompt(new=False)]
        return self.on_text(incoming.text)

    @property
    def dialog(self) -> Dialog | None:
        return self.engine.dialogs.get(self.state.dialog or "")

    @property
    def step(self) -> Step | None:
        dialog = self.dialog
        return dialog.step(self.state.step or "") if dialog else None

    def resume(self) -> list[Outgoing]:
        if self.step is not None:
            return self.prompt(new=False)
        if self.ctx.user.onboarded_at is None:
            return self.start_dialog(ONBOARDING, "")
        return [Outgoing(self.t("onboarding.welcome_back", user=self.ctx.user))]

    def on_command(self, name: str, args: str) -> list[Outgoing]:
        if name in CONTROL_COMMANDS:
            return self.on_control(CONTROL_COMMANDS[name])
        command = self.engine.commands.get(name)
        onboarded = self.ctx.user.onboarded_at is not None
        if command is None:
            return [Outgoing(self.t("common.unknown_command", command=name)), *self.reprompt()]
        if not onboarded and not command.before_onboarding:
            step = self.step
            if name == JOIN and self.state.dialog == ONBOARDING and step and step.id == INVITE_STEP:
                return self.answer(step, text=args)
            return [Outgoing(self.t("common.finish_onboarding_first")), *self.ensure_onboarding()]
        if command.roles is not None and self.ctx.user.role not in command.roles:
            return [Outgoing(self.t("common.not_for_your_role", command=name)), *self.reprompt()]
        if command.dialog is not None:
            if command.dialog == self.state.dialog and not args:
                # Repeating the command of the open dialog continues it.
                return [Outgoing(self.t("common.continuing")), *self.prompt(new=False)]
            return self.start_dialog(command.dialog, args)
        assert command.run is not None
        replies = command.run(self.ctx, args)
        self._save_data()
        return [*replies, *self.reprompt()]

    def on_text(self, text: str) -> list[Outgoing]:
        step = self.step
        if step is None:
            if self.ctx.user.onboarded_at is None:
                return self.start_dialog(ONBOARDING, "")
            if FRONT_DOOR in self.engine.dialogs:
                return self.start_dialog(FRONT_DOOR, text)
            return [Outgoing(self.t("common.idle_text"))]
        return self.answer(step, text=text)

    def on_button(self, payload: str | None) -> list[Outgoing]:
        action = callbacks.decode_action(payload)
        if action is not None:
            return self.on_action(action)
        pressed = callbacks.decode(payload)
        step = self.step
        if pressed is None or step is None or pressed.version != self.state.version:
            return self.stale()
        if pressed.key.startswith("~"):
            return self.on_control(pressed.key)
        return self.answer(step, key=pressed.key)

    def on_action(self, action: callbacks.ActionData) -> list[Outgoing]:
        handler = self.engine.services.actions.get(action.prefix)
        if handler is None or self.ctx.user.onboarded_at is None:
            return self.stale()
        before = (self.state.dialog, self.state.version)
        replies = handler(self, action)
        self._save_data()
        if (self.state.dialog, self.state.version) == before:
            replies.extend(self.reprompt())  # the open question, if any, is still open
        return replies

    def stale(self) -> list[Outgoing]:
        notice = self.t("common.stale_button")
        if self.step is None:
            return [Outgoing(notice, notice=notice)]
        return [Outgoing(notice, notice=notice), *self.prompt(new=False)]

    # ----- back / skip / cancel / done / yes / no ------------------------

    def on_control(self, key: str) -> list[Outgoing]:
        step = self.step
        if step is None:
            # Only a typed /cancel, /skip or /back gets here (a button needs an open step).
            nothing = {CANCEL: "cancel", SKIP: "skip", BACK: "go_back"}.get(key)
            if nothing is not None:
                return [Outgoing(self.t(f"common.nothing_to_{nothing}"))]
            return self.stale()
        if key == CANCEL:
            return self.cancel()
        if key == BACK:
            return self.go_back()
        if key == SKIP:
            if not step.optional:
                return [Outgoing(self.t("errors.cannot_skip")), *self.prompt(new=False)]
            return self.accept(step, None)
        if key == DONE and step.kind is AnswerKind.MULTI_CHOICE:
            selected = list(self.ctx.data.get(_selection_key(step), []))
            if not selected and not step.optional:
                return [Outgoing(self.t("errors.pick_at_least_one")), *self.prompt(new=False)]
            return self.accept(step, selected)
        if key in (YES, NO):
            return self.on_yes_no(step, key == YES)
        return self.stale()

    def cancel(self) -> list[Outgoing]:
        was_onboarding = self.state.dialog == ONBOARDING
        suspended = self.ctx.data.get(SUSPENDED)
        self._clear()
        if was_onboarding and self.ctx.user.onboarded_at is None:
            return [Outgoing(self.t("common.cancelled_onboarding"))]
        return [Outgoing(self.t("common.cancelled")), *self._resume(suspended)]

    def go_back(self) -> list[Outgoing]:
        history: list[str] = json.loads(self.state.history)
        if not history:
            return [Outgoing(self.t("errors.nothing_before")), *self.prompt(new=False)]
        self.ctx.data.pop(PENDING_WHEN, None)
        self.state.step = history.pop()
        self.state.history = json.dumps(history)
        step = self.step
        previous = self.ctx.data.get(step.id) if step else None
        if step is not None and step.kind is AnswerKind.MULTI_CHOICE and isinstance(previous, list):
            self.ctx.data[_selection_key(step)] = previous  # show the earlier picks ticked
        self._save_data()
        return self.prompt(new=True)

    def on_yes_no(self, step: Step, yes: bool) -> list[Outgoing]:
        if step.kind is AnswerKind.YES_NO:
            return self.accept(step, yes)
        if step.kind is AnswerKind.DATETIME and PENDING_WHEN in self.ctx.data:
            pending = self.ctx.data.pop(PENDING_WHEN)
            if yes:
                return self.accept(step, pending)
            self._save_data()
            return self.prompt(new=True)
        return self.stale()

    # ----- answering a step ----------------------------------------------

    def answer(
        self, step: Step, *, text: str | None = None, key: str | None = None
    ) -> list[Outgoing]:
        if key is not None:
            return self.answer_with_option(step, key)
        assert text is not None
        if len(text) > step.max_length:
            parsed = Parsed(error="errors.too_long", error_values={"limit": step.max_length})
        else:
            parsed = self.read(step, text)
        if parsed.error is not None:
            return self.reject(parsed)
        if step.kind is AnswerKind.DATETIME:
            is_new_date = not isinstance(parsed.value, tuple)
            if is_new_date and step.validate is not None:
                # Refuse an unusable date (one in the past) before asking to confirm it.
                error = step.validate(self.ctx, parsed.value)
                if error is not None:
                    return self.reject(Parsed(error=error))
            return self.confirm_when(parsed.value)
        return self.accept(step, parsed.value)

    def answer_with_option(self, step: Step, key: str) -> list[Outgoing]:
        options = self.options(step)
        if key not in {option.key for option in options}:
            return self.stale()
        if step.kind is AnswerKind.MULTI_CHOICE:
            return self.toggle(step, key)
        if step.kind is AnswerKind.SCALE:
            return self.accept(step, int(key))
        return self.accept(step, key)

    def read(self, step: Step, text: str) -> Parsed:
        t = self.t
        kind = step.kind
        if kind is AnswerKind.CHOICE:
            parsed = read_choice(text, self.options(step), t)
            if parsed.error and step.accepts_text:
                return read_text(text, step.max_length)
            return parsed
        if kind is AnswerKind.MULTI_CHOICE:
            return read_multi_choice(text, self.options(step), t)
        if kind is AnswerKind.NUMBER:
            return read_number(text, step.minimum, step.maximum)
        if kind is AnswerKind.SCALE:
            return read_scale(text)
        if kind is AnswerKind.YES_NO:
            return read_yes_no(text)
        if kind is AnswerKind.DATETIME:
            if PENDING_WHEN in self.ctx.data:
                confirmed = read_yes_no(text)
                if confirmed.error is None:
                    return Parsed(value=("confirm", confirmed.value))
            return self.read_when(text)
        return read_text(text, step.max_length)

    def read_when(self, text: str) -> Parsed:
        user = self.ctx.user
        found = read_when(
            text,
            self.ctx.zone,
            now=self.ctx.now,
            language=user.language,
            month_first=user.timezone.startswith("America/"),
        )
        if found.moment is not None and (
            found.outcome is Outcome.OK or found.reason is Reason.PAST
        ):
            return Parsed(value=found.moment.isoformat())  # a past moment: the step says so
        key = _WHEN_PROBLEMS.get(found.reason) if found.reason is not None else None
        if key is None:
            return Parsed(error="errors.bad_date")
        values = {"phrase": found.phrase, "years": HORIZON_YEARS, "when": ""}
        return Parsed(error=key, error_values=values)

    def confirm_when(self, value: Any) -> list[Outgoing]:
        step = self.step
        assert step is not None
        if isinstance(value, tuple):  # a typed yes/no to the pending confirmation
            return self.on_yes_no(step, bool(value[1]))
        self.ctx.data[PENDING_WHEN] = value
        self._save_data()
        return self.prompt(new=True)

    def confirmation(self, step: Step) -> Outgoing:
        """Echo a parsed date back before accepting it."""
        moment = datetime.fromisoformat(self.ctx.data[PENDING_WHEN])
        return Outgoing(
            self.t("common.confirm_when", when=format_when(moment, self.t)),
            buttons=[
                [
                    Button(self.t("buttons.yes_correct"), self._data(YES)),
                    Button(self.t("buttons.no_retype"), self._data(NO)),
                ],
                self._controls(step),
            ],
        )

    def reject(self, parsed: Parsed) -> list[Outgoing]:
        error = self.t(parsed.error or "errors.empty", **parsed.error_values)
        if self.ctx.data.pop(PENDING_WHEN, None) is not None:
            # Neither yes/no nor a readable date: start the question afresh.
            self._save_data()
        return [Outgoing(error), *self.prompt(new=False)]

    def toggle(self, step: Step, key: str) -> list[Outgoing]:
        selection: list[str] = list(self.ctx.data.get(_selection_key(step), []))
        if key in selection:
            selection.remove(key)
        else:
            selection.append(key)
        self.ctx.data[_selection_key(step)] = selection
        self._save_data()
        replies = self.prompt(new=True)
        replies[0].replace = True
        return replies

    def accept(self, step: Step, value: Any) -> list[Outgoing]:
        if value is not None and step.validate is not None:
            error = step.validate(self.ctx, value)
            if error is not None:
                return self.reject(Parsed(error=error))
        self.ctx.data.pop(_selection_key(step), None)
        self.ctx.data.pop(PENDING_WHEN, None)
        if step.store is not None:
            step.store(self.ctx, value)
        else:
            self.ctx.data[step.id] = value
        history: list[str] = json.loads(self.state.history)
        history.append(step.id)
        self.state.history = json.dumps(history)
        return self.advance(self.next_step_id(step, value))

    def next_step_id(self, step: Step, value: Any) -> str:
        dialog = self.dialog
        assert dialog is not None
        if callable(step.next):
            chosen = step.next(self.ctx, value)
            return chosen if chosen is not None else dialog.following(step.id)
        return step.next or dialog.following(step.id)

    def advance(self, step_id: str) -> list[Outgoing]:
        dialog = self.dialog
        assert dialog is not None
        while step_id != END:
            step = dialog.step(step_id)
            assert step is not None, f"{dialog.id}: no step {step_id!r}"
            if step.when is None or step.when(self.ctx):
                self.state.step = step_id
                self._save_data()
                return self.prompt(new=True)
            step_id = dialog.following(step_id)
        return self.finish(dialog)

    def finish(self, dialog: Dialog) -> list[Outgoing]:
        replies = dialog.finish(self.ctx)
        chained = self.ctx.data.get("_then")
        suspended = self.ctx.data.get(SUSPENDED)
        self._clear()
        if isinstance(chained, dict) and chained.get("dialog") in self.engine.dialogs:
            dialog_id, args = str(chained["dialog"]), str(chained.get("args", ""))
            replies.extend(self.start_dialog(dialog_id, args, suspended=suspended))
        else:
            replies.extend(self._resume(suspended))
        return replies

    # ----- starting and prompting ----------------------------------------

    def start_dialog(
        self, dialog_id: str, args: str, *, suspended: dict[str, Any] | None = None
    ) -> list[Outgoing]:
        """Start a dialog; an open one is set aside and resumed when this one ends."""
        dialog = self.engine.dialogs[dialog_id]
        notes: list[Outgoing] = []
        if self.state.dialog and self.state.step and self.state.dialog != dialog_id:
            suspended = self._snapshot()
            notes.append(Outgoing(self.t("common.left_dialog")))
        self.ctx.data = {SUSPENDED: suspended} if suspended else {}
        self.state.dialog = dialog.id
        self.state.history = "[]"
        if dialog.begin is not None:
            try:
                notes.extend(dialog.begin(self.ctx, args))
            except StopDialog as stop:
                self._clear()
                return notes + stop.replies + self._resume(suspended)
        return notes + self.advance(dialog.steps[0].id)

    def _snapshot(self) -> dict[str, Any]:
        return {
            "dialog": self.state.dialog,
            "step": self.state.step,
            "data": self.ctx.data,
            "history": json.loads(self.state.history),
        }

    def _resume(self, suspended: Any) -> list[Outgoing]:
        """Go back to a dialog that was set aside, at the question where it stopped."""
        if not isinstance(suspended, dict) or suspended.get("dialog") not in self.engine.dialogs:
            return []
        self.state.dialog = str(suspended["dialog"])
        self.state.step = str(suspended["step"])
        self.state.history = json.dumps(suspended.get("history", []))
        self.ctx.data = dict(suspended.get("data", {}))
        self._save_data()
        if self.step is None:
            self._clear()
            return []
        return [Outgoing(self.t("common.resuming")), *self.prompt(new=True)]

    def ensure_onboarding(self) -> list[Outgoing]:
        if self.state.dialog == ONBOARDING:
            return self.prompt(new=False)
        return self.start_dialog(ONBOARDING, "")

    def reprompt(self) -> list[Outgoing]:
        return self.prompt(new=False) if self.step is not None else []

    def prompt(self, *, new: bool) -> list[Outgoing]:
        """Ask the current step; a new prompt makes every older button stale."""
        step = self.step
        if step is None:
            return []
        if new:
            self.state.version += 1
        values = {**self.ctx.data, "user": self.ctx.user}
        if step.prompt_values is not None:
            values.update(step.prompt_values(self.ctx))
        if step.kind is AnswerKind.DATETIME and PENDING_WHEN in self.ctx.data:
            return [self.confirmation(step)]
        text = self.t(step.prompt, **values)
        return [Outgoing(text, buttons=[*self.option_rows(step), self._controls(step)])]

    def options(self, step: Step) -> Sequence[Option]:
        if step.kind is AnswerKind.SCALE:
            return [Option(str(number), str(number), literal=True) for number in range(1, 11)]
        if step.kind is AnswerKind.YES_NO:
            return [Option(YES, "buttons.yes"), Option(NO, "buttons.no")]
        return step.options(self.ctx) if callable(step.options) else step.options

    def option_rows(self, step: Step) -> list[list[Button]]:
        options = self.options(step)
        selected = set(self.ctx.data.get(_selection_key(step), []))
        buttons = []
        for option in options:
            label = option_label(option, self.t)
            if step.kind is AnswerKind.MULTI_CHOICE:
                label = f"{'✅' if option.key in selected else '▫️'} {label}"
            buttons.append(Button(label, self._data(option.key)))
        columns = 5 if step.kind is AnswerKind.SCALE else max(1, step.columns)
        rows = [buttons[i : i + columns] for i in range(0, len(buttons), columns)]
        if step.kind is AnswerKind.MULTI_CHOICE:
            rows.append([Button(self.t("buttons.done"), self._data(DONE))])
        return rows

    def _controls(self, step: Step) -> list[Button]:
        row = []
        if json.loads(self.state.history):
            row.append(Button(self.t("buttons.back"), self._data(BACK)))
        if step.optional:
            row.append(Button(self.t("buttons.skip"), self._data(SKIP)))
        row.append(Button(self.t("buttons.cancel"), self._data(CANCEL)))
        return row

    def _data(self, key: str) -> str:
        return callbacks.encode(self.state.version, key)

    # ----- state ----------------------------------------------------------

    def _save_data(self) -> None:
        self.state.data = json.dumps(self.ctx.data, ensure_ascii=False, default=str)

    def _clear(self) -> None:
        self.state.dialog = None
        self.state.step = None
        self.state.history = "[]"
        self.ctx.data = {}
        self.state.data = "{}"
        self.state.version += 1


def _selection_key(step: Step) -> str:
    return f"_selected_{step.id}"
