"""/mydata (a JSON export of everything stored about you) and /forget (delete it)."""

from __future__ import annotations

import json

from dialogs.core.io import Outgoing
from dialogs.core.steps import AnswerKind, Command, Context, Dialog, Step, StopDialog
from storage.privacy import export_user, forget_user


def export_my_data(ctx: Context, _args: str) -> list[Outgoing]:
    """Send the user a JSON file with every row about them."""
    dump = export_user(ctx.session, ctx.user.id or 0)
    content = json.dumps(dump, ensure_ascii=False, indent=2, default=str).encode()
    return [Outgoing(ctx.t("privacy.export_ready"), attachments={"salescoach-data.json": content})]


def _begin_forget(ctx: Context, args: str) -> list[Outgoing]:
    if args.strip():
        raise StopDialog([Outgoing(ctx.t("privacy.forget_usage"))])
    return []


def _finish_forget(ctx: Context) -> list[Outgoing]:
    if not ctx.data.get("confirm"):
        return [Outgoing(ctx.t("privacy.kept"))]
    texts = ctx.t  # the user row is anonymised below; keep their language for the reply
    forget_user(ctx.session, ctx.user.id or 0)
    return [Outgoing(texts("privacy.forgotten"))]


FORGET = Dialog(
    id="forget",
    begin=_begin_forget,
    finish=_finish_forget,
    steps=(Step(id="confirm", prompt="privacy.confirm_forget", kind=AnswerKind.YES_NO),),
)

DIALOGS = (FORGET,)
COMMANDS = (
    Command("mydata", "commands.mydata", run=export_my_data),
    Command("forget", "commands.forget", dialog="forget"),
)
