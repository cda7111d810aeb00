"""/trio: live role-play in threes — a rep, a customer and an observer with the 14-item form.

One person opens a trio and passes on its code (or link); or a manager sets one
up for three team members, who each get a Join button. Roles rotate each round
so everyone plays each one. What reaches the other two goes through reminder
rows, so it survives a restart and goes out once.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from dialogs.core.answers import key_number
from dialogs.core.callbacks import ActionData
from dialogs.core.io import Outgoing
from dialogs.core.steps import (
    AnswerKind,
    Command,
    Context,
    Dialog,
    Option,
    Step,
    StopDialog,
    Turn,
)
from dialogs.practice.trio_messages import (
    TRIO_BUTTON,
    card_title,
    done_message,
    form_message,
    invite_message,
    maximum,
    name_of,
    page_of,
    role_message,
)
from storage.drills import is_team_member, team_members
from storage.models import TrioRound, TrioSession
from storage.reminders import schedule
from storage.teams import get_team, managed_teams
from storage.trio import (
    FORM_SCORES,
    GATHERING,
    RUNNING,
    SEATS,
    Joined,
    create_session,
    current_round,
    find_by_code,
    finish_round,
    get_session,
    joined_members,
    leave,
    message_key,
    open_session_of,
    restart_clock,
    seat_of,
    set_comment,
    set_score,
)
from storage.trio import join as take_seat

TRIO, COMMENT = "trio", "trio_comment"
MAX_COMMENT = 300
LEAVE_WORDS = ("leave", "退出")
DEEP_LINK = "trio-"  # /start trio-CODE, from a t.me link
_FORM_VERB = re.compile(r"^r(\d)(?:i(\d{1,2})s(\d)|p(\d)|(fin)|(cmt)|(clk))$")


# ----- telling the others ------------------------------------------------------------------


def _tell(
    ctx: Context, trio: TrioSession, event: str, number: int, user_id: int, order: int = 0
) -> None:
    """A message to another participant, as a reminder row due now; `order` keeps a
    person's messages in sequence (the dispatcher sends the earliest due first)."""
    schedule(
        ctx.session,
        user_id=user_id,
        kind="drill",
        dedup_key=message_key(trio.id or 0, event, number, user_id),
        due_at=ctx.now - timedelta(milliseconds=10 - order),
    )


def _start_replies(ctx: Context, trio: TrioSession, played: TrioRound) -> list[Outgoing]:
    """A round begins: the person acting gets their card now, the others through messages."""
    me = ctx.user.id
    for user_id in (played.rep_id, played.customer_id, played.observer_id):
        if user_id != me:
            _tell(ctx, trio, "role", played.number, user_id, order=5)
    if me in (played.rep_id, played.customer_id, played.observer_id):
        return [role_message(ctx, trio, played)]
    return []


# ----- joining and leaving -----------------------------------------------------------------


def join_trio(ctx: Context, code: str) -> list[Outgoing]:
    """Take a seat in the trio a code names; the third seat starts round 1."""
    trio = find_by_code(ctx.session, code)
    if trio is None:
        return [Outgoing(ctx.t("trio.no_such_code"))]
    return _join(ctx, trio)


def _join(ctx: Context, trio: TrioSession) -> list[Outgoing]:
    user_id = ctx.user.id or 0
    other = open_session_of(ctx.session, user_id, ctx.now)
    if other is not None and other.id != trio.id and _has_joined(ctx, other):
        return [Outgoing(ctx.t("trio.in_another", code=other.code))]
    outcome = take_seat(ctx.session, trio, user_id, ctx.now)
    if outcome is not Joined.JOINED:
        return [Outgoing(ctx.t(f"trio.join_{outcome.value}"))]
    seat = seat_of(ctx.session, trio.id or 0, user_id)
    title = card_title(ctx, trio.card_id)
    played = current_round(ctx.session, trio)
    if played is None:  # still waiting for others
        for member in joined_members(ctx.session, trio.id or 0):
            if member.user_id != user_id:
                _tell(ctx, trio, "joined", seat.seat if seat else 0, member.user_id)
        taken = len(joined_members(ctx.session, trio.id or 0))
        waiting = ctx.t("trio.joined_waiting", title=title, taken=taken, seats=SEATS)
        return [Outgoing(waiting)]
    started = ctx.t("trio.joined_started", title=title)
    return [Outgoing(started), *_start_replies(ctx, trio, played)]


def _has_joined(ctx: Context, trio: TrioSession) -> bool:
    seat = seat_of(ctx.session, trio.id or 0, ctx.user.id or 0)
    return seat is not None and seat.joined_at is not None


def leave_trio(ctx: Context, trio: TrioSession | None) -> list[Outgoing]:
    """Leave the trio: it stops, the others are told, finished rounds are kept."""
    user_id = ctx.user.id or 0
    if (
        trio is None
        or trio.status not in (GATHERING, RUNNING)
        or seat_of(ctx.session, trio.id or 0, user_id) is None
    ):
        return [Outgoing(ctx.t("trio.not_in_one"))]
    seat = seat_of(ctx.session, trio.id or 0, user_id)
    for other in leave(ctx.session, trio, user_id, ctx.now):
        _tell(ctx, trio, "left", seat.seat if seat else 0, other)
    return [Outgoing(ctx.t("trio.you_left", title=card_title(ctx, trio.card_id)))]


def _status(ctx: Context, trio: TrioSession) -> list[Outgoing]:
    """Where the person's open trio stands, with their card again when it is running."""
    played = current_round(ctx.session, trio)
    if played is None:
        if not _has_joined(ctx, trio):
            return [Outgoing(ctx.t("trio.invited_pending", code=trio.code))]
        return [invite_message(ctx, trio)]
    note = Outgoing(
        ctx.t("trio.still_running", number=played.number, title=card_title(ctx, trio.card_id))
    )
    return [note, role_message(ctx, trio, played)]


# ----- /trio --------------------------------------------------------------------------------


def _begin(ctx: Context, args: str) -> list[Outgoing]:
    """`/trio` opens one; `/trio CODE` joins; `/trio leave` leaves; a trio under way is shown."""
    text = args.strip()
    if text.startswith(DEEP_LINK):
        text = text[len(DEEP_LINK) :]
    current = open_session_of(ctx.session, ctx.user.id or 0, ctx.now)
    if text.lower() in LEAVE_WORDS:
        raise StopDialog(leave_trio(ctx, current))
    if text:
        raise StopDialog(join_trio(ctx, text))
    if current is not None:
        raise StopDialog(_status(ctx, current))
    if not _cards(ctx):
        raise StopDialog([Outgoing(ctx.t("trio.no_cards"))])
    if ctx.user.role != "manager":
        ctx.data["mode"] = "self"
    else:
        teams = _teams(ctx)
        if len(teams) == 1:
            ctx.data["team"] = f"t{teams[0].id}"
    return []


def _cards(ctx: Context) -> list[str]:
    return [card for card in ctx.playbooks.trio_cards if card in ctx.playbooks.scenarios]


def _card_options(ctx: Context) -> list[Option]:
    return [Option(card, card_title(ctx, card), literal=True) for card in _cards(ctx)]


def _validate_card(ctx: Context, value: Any) -> str | None:
    return None if value in _cards(ctx) else "errors.not_available"


def _teams(ctx: Context) -> list[Any]:
    """The manager's teams with at least three members to play."""
    teams = managed_teams(ctx.session, ctx.user.id or 0)
    return [team for team in teams if len(team_members(ctx.session, team.id or 0)) >= SEATS]


def _mode_options(ctx: Context) -> list[Option]:
    options = [Option("self", "trio.mode_self")]
    if _teams(ctx):
        options.append(Option("team", "trio.mode_team"))
    return options


def _team_options(ctx: Context) -> list[Option]:
    return [Option(f"t{team.id}", team.name, literal=True) for team in _teams(ctx)]


def _validate_team(ctx: Context, value: Any) -> str | None:
    team_id = key_number(value, "t")
    return None if team_id in {team.id for team in _teams(ctx)} else "errors.not_available"


def _team_id(ctx: Context) -> int | None:
    team_id = key_number(ctx.data.get("team"), "t")
    return team_id if team_id in {team.id for team in _teams(ctx)} else None


def _member_options(ctx: Context) -> list[Option]:
    team_id = _team_id(ctx)
    people = team_members(ctx.session, team_id) if team_id is not None else []
    return [Option(f"u{person.id}", person.display_name, literal=True) for person in people]


def _validate_members(ctx: Context, value: Any) -> str | None:
    team_id = _team_id(ctx)
    picked = [key_number(key, "u") for key in value or []]
    if len(picked) != SEATS:
        return "trio.pick_three"
    if team_id is None or not all(
        user_id is not None and is_team_member(ctx.session, team_id, user_id) for user_id in picked
    ):
        return "errors.not_available"
    return None


def _team_values(ctx: Context) -> dict[str, Any]:
    team_id = _team_id(ctx)
    team = get_team(ctx.session, team_id) if team_id is not None else None
    return {"team": team.name if team is not None else ""}


def _form_values(ctx: Context) -> dict[str, Any]:
    return {"items": len(ctx.playbooks.observer_form), "maximum": maximum(ctx)}


def _finish(ctx: Context) -> list[Outgoing]:
    card = str(ctx.data["card"])
    if ctx.data.get("mode") == "team":
        return _finish_for_team(ctx, card)
    trio = create_session(
        ctx.session,
        creator_id=ctx.user.id or 0,
        card_id=card,
        language=ctx.user.language,
        now=ctx.now,
    )
    return [invite_message(ctx, trio)]


def _finish_for_team(ctx: Context, card: str) -> list[Outgoing]:
    team_id = _team_id(ctx)
    picked = [key_number(key, "u") or 0 for key in ctx.data.get("members", [])]
    if team_id is None or len(picked) != SEATS:
        return [Outgoing(ctx.t("errors.not_available"))]
    trio = create_session(
        ctx.session,
        creator_id=ctx.user.id or 0,
        card_id=card,
        language=ctx.user.language,
        now=ctx.now,
        team_id=team_id,
        invited=picked,
    )
    for user_id in picked:
        _tell(ctx, trio, "invite", 0, user_id)
    names = [name_of(ctx.session, user_id) for user_id in picked]
    text = ctx.t("trio.team_sent", title=card_title(ctx, card), names=names, code=trio.code)
    return [Outgoing(text)]


TRIO_DIALOG = Dialog(
    id=TRIO,
    begin=_begin,
    finish=_finish,
    steps=(
        Step(
            id="mode",
            prompt="trio.pick_mode",
            kind=AnswerKind.CHOICE,
            options=_mode_options,
            prompt_values=_form_values,
            when=lambda ctx: "mode" not in ctx.data,
        ),
        Step(
            id="team",
            prompt="trio.pick_team",
            kind=AnswerKind.CHOICE,
            options=_team_options,
            validate=_validate_team,
            when=lambda ctx: ctx.data.get("mode") == "team" and "team" not in ctx.data,
        ),
        Step(
            id="members",
            prompt="trio.pick_members",
            kind=AnswerKind.MULTI_CHOICE,
            options=_member_options,
            columns=2,
            validate=_validate_members,
            prompt_values=_team_values,
            when=lambda ctx: ctx.data.get("mode") == "team",
        ),
        Step(
            id="card",
            prompt="trio.pick_card",
            kind=AnswerKind.CHOICE,
            options=_card_options,
            prompt_values=_form_values,
            validate=_validate_card,
        ),
    ),
)


# ----- the observer's comment on one item ----------------------------------------------------


def _observed_round(
    ctx: Context, trio_id: int, number: int
) -> tuple[TrioSession, TrioRound] | None:
    """The trio and round, while that round is under way and the reader observes it."""
    trio = get_session(ctx.session, trio_id, for_update=True)
    played = current_round(ctx.session, trio) if trio is not None else None
    if trio is None or played is None or played.number != number:
        return None
    if played.observer_id != ctx.user.id:
        return None
    return trio, played


def _item_ids(ctx: Context) -> list[str]:
    return list(ctx.playbooks.observer_form)


def _begin_comment(ctx: Context, args: str) -> list[Outgoing]:
    parts = args.split(":")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise StopDialog([Outgoing(ctx.t("trio.round_over"))])
    trio_id, number = (int(part) for part in parts)
    if _observed_round(ctx, trio_id, number) is None:
        raise StopDialog([Outgoing(ctx.t("trio.round_over"))])
    ctx.data.update({"trio": trio_id, "round": number})
    return []


def _item_options(ctx: Context) -> list[Option]:
    return [
        Option(f"i{index}", f"{index + 1}. {ctx.local(item.label)}", literal=True)
        for index, item in enumerate(ctx.playbooks.observer_form.values())
    ]


def _validate_item(ctx: Context, value: Any) -> str | None:
    index = key_number(value, "i")
    return None if index is not None and index < len(_item_ids(ctx)) else "errors.not_available"


def _picked_item(ctx: Context) -> str:
    return _item_ids(ctx)[key_number(ctx.data.get("item"), "i") or 0]


def _comment_values(ctx: Context) -> dict[str, Any]:
    item = ctx.playbooks.observer_form[_picked_item(ctx)]
    found = _observed_round(ctx, int(ctx.data["trio"]), int(ctx.data["round"]))
    current = found[1].comments.get(item.id, "") if found else ""
    return {"label": ctx.local(item.label), "hint": ctx.local(item.hint), "current": current}


def _finish_comment(ctx: Context) -> list[Outgoing]:
    found = _observed_round(ctx, int(ctx.data["trio"]), int(ctx.data["round"]))
    if found is None:
        return [Outgoing(ctx.t("trio.round_over"))]
    trio, played = found
    item = _picked_item(ctx)
    text = str(ctx.data.get("text") or "").strip()
    set_comment(ctx.session, played, item, "" if text == "-" else text)
    label = ctx.local(ctx.playbooks.observer_form[item].label)
    page = page_of(_item_ids(ctx).index(item))
    return [
        Outgoing(ctx.t("trio.comment_saved", label=label)),
        form_message(ctx, trio, played, intro=False, page=page),
    ]


COMMENT_DIALOG = Dialog(
    id=COMMENT,
    begin=_begin_comment,
    finish=_finish_comment,
    steps=(
        Step(
            id="item",
            prompt="trio.pick_item",
            kind=AnswerKind.CHOICE,
            options=_item_options,
            columns=2,
            validate=_validate_item,
        ),
        Step(
            id="text",
            prompt="trio.ask_comment",
            max_length=MAX_COMMENT,
            prompt_values=_comment_values,
        ),
    ),
)


# ----- buttons: join, leave, and the observer's form ------------------------------------------


def on_trio_button(turn: Turn, action: ActionData) -> list[Outgoing]:
    """A trio button: the session is read afresh, so a stale or someone else's press is refused."""
    ctx = turn.ctx
    trio = get_session(ctx.session, action.target_id, for_update=True)
    if trio is None:
        return _stale(ctx)
    if action.verb == "join":
        return _join(ctx, trio)
    if action.verb == "leave":
        return leave_trio(ctx, trio)
    match = _FORM_VERB.match(action.verb)
    if match is None:
        return _stale(ctx)
    number = int(match.group(1))
    played = current_round(ctx.session, trio)
    if played is None or played.number != number:
        return [Outgoing(ctx.t("trio.round_over"))]
    if played.observer_id != ctx.user.id:
        observer = name_of(ctx.session, played.observer_id)
        notice = ctx.t("trio.observer_only", observer=observer)
        return [Outgoing(notice, notice=notice)]
    if match.group(5):
        return _finish_round(ctx, trio, played)
    if match.group(6):
        return turn.start_dialog(COMMENT, f"{trio.id}:{number}")
    if match.group(7):  # the conversation begins now: the time used counts from here
        restart_clock(ctx.session, played, ctx.now)
        form = form_message(ctx, trio, played, intro=False)
        form.replace = True
        return [form]
    if match.group(4) is not None:  # the other page of the form
        form = form_message(ctx, trio, played, intro=False, page=int(match.group(4)) % 2)
        form.replace = True
        return [form]
    index, score = int(match.group(2)), int(match.group(3))
    items = _item_ids(ctx)
    if index >= len(items) or score not in FORM_SCORES:
        return _stale(ctx)
    set_score(ctx.session, played, items[index], score)
    form = form_message(ctx, trio, played, intro=False, page=page_of(index))
    form.replace = True
    return [form]


def _finish_round(ctx: Context, trio: TrioSession, played: TrioRound) -> list[Outgoing]:
    missing = [
        ctx.local(item.label)
        for item in ctx.playbooks.observer_form.values()
        if item.id not in played.scores
    ]
    if missing:
        return [
            Outgoing(ctx.t("trio.form_incomplete", missing=missing)),
            form_message(ctx, trio, played, intro=False),
        ]
    following = finish_round(ctx.session, trio, played, ctx.now)
    _tell(ctx, trio, "result", played.number, played.rep_id, order=1)
    saved = Outgoing(
        ctx.t(
            "trio.round_saved",
            number=played.number,
            rep=name_of(ctx.session, played.rep_id),
            total=played.total or 0,
            maximum=maximum(ctx),
        )
    )
    if following is not None:
        return [saved, *_start_replies(ctx, trio, following)]
    for user_id in (played.rep_id, played.customer_id):
        _tell(ctx, trio, "done", played.number, user_id, order=5)
    if trio.team_id is not None:  # a manager set it up for three of their team
        _tell(ctx, trio, "summary", played.number, trio.created_by)
    return [saved, done_message(ctx, trio)]


def _stale(ctx: Context) -> list[Outgoing]:
    notice = ctx.t("common.stale_button")
    return [Outgoing(notice, notice=notice)]


DIALOGS = (TRIO_DIALOG, COMMENT_DIALOG)
COMMANDS = (Command("trio", "commands.trio", dialog=TRIO),)
ACTIONS = {TRIO_BUTTON: on_trio_button}
