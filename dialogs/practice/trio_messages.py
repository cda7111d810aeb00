"""What each person in a role-play in threes sees: role cards, the observer's form, results."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dialogs.core.callbacks import encode_action
from dialogs.core.io import Button, Outgoing
from dialogs.core.steps import Context
from playbooks.schema import TrioCard
from storage.models import Reminder, TrioRound, TrioSession, User, as_utc
from storage.trio import (
    CANCELLED,
    DONE,
    FORM_SCORES,
    GATHERING,
    ROUNDS,
    RUNNING,
    SEATS,
    expired,
    get_round,
    get_session,
    joined_members,
    members,
    parse_message_key,
    rounds_as_rep,
)

TRIO_BUTTON = "t"  # action-button prefix: join, leave, and the observer's form
# A link that opens the bot with "/start trio-CODE", made from the team invite link's shape.
_PROBE = "TRIOPROBE"


def plain(text: str) -> str:
    """A rendered locale string as plain text for a button label."""
    return html.unescape(text)


def name_of(session: Session, user_id: int) -> str:
    """A person's display name."""
    user = session.get(User, user_id)
    return user.display_name if user is not None else ""


def card_title(ctx: Context, card_id: str) -> str:
    """The card's title: its drill's title, in the reader's language."""
    drill = ctx.playbooks.drills.get(card_id)
    return ctx.local(drill.title) if drill is not None else card_id


def card_of(ctx: Context, card_id: str) -> TrioCard | None:
    """The card, if the playbooks still have it."""
    return ctx.playbooks.trio_cards.get(card_id)


def trio_link(ctx: Context, code: str) -> str | None:
    """A t.me link that opens the bot and joins, where the platform has such links."""
    probe = ctx.services.invite_link(_PROBE)
    if f"start=join_{_PROBE}" not in probe:
        return None
    return probe.replace(f"join_{_PROBE}", f"trio-{code}")


def maximum(ctx: Context) -> int:
    """The form's highest total: 7 on every item (98 for the seeds' fourteen)."""
    return max(FORM_SCORES) * len(ctx.playbooks.observer_form)


def elapsed(since: datetime, now: datetime) -> str:
    """Minutes and seconds since `since`, as m:ss."""
    seconds = max(0, int((now - as_utc(since)).total_seconds()))
    return duration(seconds)


def duration(seconds: int) -> str:
    """A number of seconds as m:ss."""
    return f"{seconds // 60}:{seconds % 60:02d}"


def role_in(played: TrioRound, user_id: int) -> str | None:
    """The person's role in this round (rep, customer or observer); None if not playing it."""
    roles = {played.rep_id: "rep", played.customer_id: "customer", played.observer_id: "observer"}
    return roles.get(user_id)


def leave_button(ctx: Context, trio: TrioSession) -> Button:
    """The button that leaves the trio (the others are told)."""
    return Button(
        plain(ctx.t("trio.button_leave")), encode_action(TRIO_BUTTON, trio.id or 0, "leave")
    )


# ----- inviting ---------------------------------------------------------------------------


def invite_message(ctx: Context, trio: TrioSession) -> Outgoing:
    """The code and link to pass on, and how many seats are still free."""
    taken = len(joined_members(ctx.session, trio.id or 0))
    text = ctx.t(
        "trio.invite",
        title=card_title(ctx, trio.card_id),
        code=trio.code,
        link=trio_link(ctx, trio.code),
        missing=SEATS - taken,
    )
    return Outgoing(text, buttons=[[leave_button(ctx, trio)]])


def manager_invite(ctx: Context, trio: TrioSession) -> Outgoing:
    """A manager's trio reaching one of the three: who set it up, with whom, and Join."""
    others = [
        name_of(ctx.session, member.user_id)
        for member in members(ctx.session, trio.id or 0)
        if member.user_id != ctx.user.id
    ]
    text = ctx.t(
        "trio.manager_invite",
        manager=name_of(ctx.session, trio.created_by),
        title=card_title(ctx, trio.card_id),
        others=others,
        code=trio.code,
    )
    join = Button(
        plain(ctx.t("trio.button_join")), encode_action(TRIO_BUTTON, trio.id or 0, "join")
    )
    return Outgoing(text, buttons=[[join]])


# ----- the three roles ----------------------------------------------------------------------


def role_message(ctx: Context, trio: TrioSession, played: TrioRound) -> Outgoing:
    """The reader's card for the round: the rep's situation, the customer's brief, or the form."""
    role = role_in(played, ctx.user.id or 0)
    card = card_of(ctx, played.card_id)
    if role == "observer" or card is None:
        return form_message(ctx, trio, played, intro=True)
    values: dict[str, Any] = {
        "number": played.number,
        "rounds": ROUNDS,
        "title": card_title(ctx, played.card_id),
        "minutes": card.minutes,
        "rep": name_of(ctx.session, played.rep_id),
        "customer": name_of(ctx.session, played.customer_id),
        "observer": name_of(ctx.session, played.observer_id),
    }
    if role == "rep":
        text = ctx.t("trio.role_rep", situation=ctx.local(card.rep), **values)
    else:
        objections = [
            {"say": ctx.local(item.raise_), "soften": ctx.local(item.soften)}
            for item in card.objections
        ]
        text = ctx.t(
            "trio.role_customer",
            who=ctx.local(card.who),
            need=ctx.local(card.hidden_need),
            objections=objections,
            **values,
        )
    return Outgoing(text, buttons=[[leave_button(ctx, trio)]])


PAGE = 7  # items with buttons per page: 21 score buttons and 5 others, the 26 a terminal codes


def _action(trio_id: int, verb: str) -> str:
    return encode_action(TRIO_BUTTON, trio_id, verb)


def _score_button(trio_id: int, number: int, index: int, score: int, chosen: bool) -> Button:
    label = f"{'✔ ' if chosen else ''}{index + 1}: {score}"
    return Button(label, _action(trio_id, f"r{number}i{index}s{score}"))


def page_of(index: int) -> int:
    """The page of the form whose buttons score item `index`."""
    return index // PAGE


def form_message(
    ctx: Context, trio: TrioSession, played: TrioRound, *, intro: bool, page: int = 0
) -> Outgoing:
    """The observer's form: all 14 items and the clock; 7 / 5 / 3 buttons for one page of
    seven items, the other page, a comment, Finish round and Leave."""
    card = card_of(ctx, played.card_id)
    trio_id, verb = trio.id or 0, f"r{played.number}"
    items = []
    rows: list[list[Button]] = []
    for index, item in enumerate(ctx.playbooks.observer_form.values()):
        score = played.scores.get(item.id)
        items.append(
            {
                "number": index + 1,
                "label": ctx.local(item.label),
                "hint": ctx.local(item.hint),
                "score": score,
                "comment": played.comments.get(item.id, ""),
                "here": page_of(index) == page,
            }
        )
        if page_of(index) == page:
            rows.append(
                [
                    _score_button(trio_id, played.number, index, value, score == value)
                    for value in FORM_SCORES
                ]
            )
    pages = page_of(len(items) - 1) + 1
    scored = [item["score"] for item in items if item["score"] is not None]
    text = ctx.t(
        "trio.form",
        intro=intro,
        number=played.number,
        rounds=ROUNDS,
        title=card_title(ctx, played.card_id),
        rep=name_of(ctx.session, played.rep_id),
        customer=name_of(ctx.session, played.customer_id),
        items=items,
        scored=len(scored),
        count=len(items),
        total=sum(scored),
        maximum=maximum(ctx),
        started=ctx.format_when(as_utc(played.started_at)),
        elapsed=elapsed(played.started_at, ctx.now),
        minutes=card.minutes if card is not None else None,
    )
    other = (page + 1) % pages
    first, last = other * PAGE + 1, min(len(items), (other + 1) * PAGE)
    turn = plain(ctx.t("trio.button_page", first=first, last=last))
    comment = plain(ctx.t("trio.button_comment"))
    rows.append(
        [
            Button(turn, _action(trio_id, f"{verb}p{other}")),
            Button(comment, _action(trio_id, f"{verb}cmt")),
        ]
    )
    clock = plain(ctx.t("trio.button_clock"))
    finish = plain(ctx.t("trio.button_finish"))
    rows.append(
        [
            Button(clock, _action(trio_id, f"{verb}clk")),
            Button(finish, _action(trio_id, f"{verb}fin")),
        ]
    )
    rows.append([leave_button(ctx, trio)])
    return Outgoing(text, buttons=rows)


def result_message(ctx: Context, played: TrioRound) -> Outgoing:
    """The rep's result: the observer's form, the total out of 98 and the time used."""
    card = card_of(ctx, played.card_id)
    items = [
        {
            "label": ctx.local(item.label),
            "score": played.scores.get(item.id),
            "comment": played.comments.get(item.id, ""),
        }
        for item in ctx.playbooks.observer_form.values()
    ]
    text = ctx.t(
        "trio.result",
        number=played.number,
        rounds=ROUNDS,
        title=card_title(ctx, played.card_id),
        observer=name_of(ctx.session, played.observer_id),
        items=items,
        total=played.total or 0,
        maximum=maximum(ctx),
        used=duration(played.seconds_used or 0),
        minutes=card.minutes if card is not None else None,
        over=card is not None and (played.seconds_used or 0) > card.minutes * 60,
    )
    return Outgoing(text)


def done_message(ctx: Context, trio: TrioSession) -> Outgoing:
    """The end of the three rounds: each person's own total as the rep."""
    mine = [
        played
        for played in (get_round(ctx.session, trio.id or 0, n) for n in range(1, ROUNDS + 1))
        if played is not None and played.rep_id == ctx.user.id
    ]
    total = mine[0].total if mine and mine[0].total is not None else None
    return Outgoing(
        ctx.t("trio.done", title=card_title(ctx, trio.card_id), total=total, maximum=maximum(ctx))
    )


def summary_message(ctx: Context, trio: TrioSession) -> Outgoing:
    """For the manager who set the trio up: each round's rep, total and time used."""
    rounds = [
        {
            "number": played.number,
            "rep": name_of(ctx.session, played.rep_id),
            "observer": name_of(ctx.session, played.observer_id),
            "total": played.total or 0,
            "used": duration(played.seconds_used or 0),
        }
        for played in (get_round(ctx.session, trio.id or 0, n) for n in range(1, ROUNDS + 1))
        if played is not None and played.finished_at is not None
    ]
    text = ctx.t(
        "trio.summary", title=card_title(ctx, trio.card_id), rounds=rounds, maximum=maximum(ctx)
    )
    return Outgoing(text)


def joined_message(ctx: Context, trio: TrioSession, seat: int) -> Outgoing | None:
    """Someone took a seat (told to those already in)."""
    joiner = next((m for m in members(ctx.session, trio.id or 0) if m.seat == seat), None)
    if joiner is None or trio.status != GATHERING:
        return None
    taken = len(joined_members(ctx.session, trio.id or 0))
    text = ctx.t(
        "trio.someone_joined", name=name_of(ctx.session, joiner.user_id), taken=taken, seats=SEATS
    )
    return Outgoing(text)


def left_message(ctx: Context, trio: TrioSession, seat: int) -> Outgoing | None:
    """Someone left, which stops the trio (told to the others)."""
    leaver = next((m for m in members(ctx.session, trio.id or 0) if m.seat == seat), None)
    if leaver is None or trio.status != CANCELLED:
        return None
    kept = sum(
        1
        for n in range(1, ROUNDS + 1)
        if (r := get_round(ctx.session, trio.id or 0, n)) and r.finished_at
    )
    text = ctx.t("trio.someone_left", name=name_of(ctx.session, leaver.user_id), kept=kept)
    return Outgoing(text)


# ----- messages through reminder rows ---------------------------------------------------


def compose(ctx: Context, reminder: Reminder) -> Outgoing | None:
    """The message of a trio reminder row; None when what it was about is over or not theirs."""
    parsed = parse_message_key(reminder.dedup_key)
    if parsed is None:
        return None
    trio_id, event, number = parsed
    trio = get_session(ctx.session, trio_id)
    if trio is None:
        return None
    if event == "invite":
        mine = next(
            (m for m in members(ctx.session, trio_id) if m.user_id == reminder.user_id), None
        )
        if trio.status != GATHERING or mine is None or mine.joined_at is not None:
            return None
        if expired(trio, ctx.now):
            return None
        return manager_invite(ctx, trio)
    if event == "joined":
        return joined_message(ctx, trio, number)
    if event == "left":
        return left_message(ctx, trio, number)
    if event == "done":
        return done_message(ctx, trio) if trio.status == DONE else None
    if event == "summary":  # to the manager who set it up
        theirs = reminder.user_id == trio.created_by
        return summary_message(ctx, trio) if trio.status == DONE and theirs else None
    played = get_round(ctx.session, trio_id, number)
    if played is None or role_in(played, reminder.user_id) is None:
        return None
    if event == "result":
        return result_message(ctx, played) if played.finished_at is not None else None
    if event == "role" and trio.status == RUNNING and trio.round == number:
        return role_message(ctx, trio, played)
    return None


# ----- /progress ----------------------------------------------------------------------------

TREND_POINTS = 6  # scores per item shown in /progress


def progress_section(ctx: Context) -> Outgoing | None:
    """Role-play in threes in /progress: totals as the rep and each item's trend."""
    rounds = rounds_as_rep(ctx.session, ctx.user.id or 0)
    if not rounds:
        return None
    oldest_first = list(reversed(rounds))
    trend = []
    for item in ctx.playbooks.observer_form.values():
        scores = [played.scores[item.id] for played in oldest_first if item.id in played.scores]
        if scores:
            trend.append({"label": ctx.local(item.label), "scores": scores[-TREND_POINTS:]})
    text = ctx.t(
        "trio.progress",
        count=len(rounds),
        totals=[played.total or 0 for played in oldest_first][-TREND_POINTS:],
        maximum=maximum(ctx),
        trend=trend,
    )
    return Outgoing(text)
