"""Every dialog and command, registered in one place."""

from __future__ import annotations

from dialogs.onboarding import ONBOARDING
from dialogs.profile import LANGUAGE, TIMEZONE, show_help, show_profile
from dialogs.steps import Command, Dialog
from dialogs.teams import INVITE, NEW_TEAM, REVOKE, join_command

MANAGERS = frozenset({"manager"})

DIALOGS: tuple[Dialog, ...] = (ONBOARDING, LANGUAGE, TIMEZONE, NEW_TEAM, INVITE, REVOKE)

COMMANDS: tuple[Command, ...] = (
    Command("start", "commands.start", dialog="onboarding", before_onboarding=True),
    Command("help", "commands.help", run=show_help, before_onboarding=True),
    Command("whoami", "commands.whoami", run=show_profile),
    Command("language", "commands.language", dialog="language", before_onboarding=True),
    Command("timezone", "commands.timezone", dialog="timezone"),
    Command("join", "commands.join", run=join_command),
    Command("newteam", "commands.newteam", dialog="new_team", roles=MANAGERS),
    Command("invite", "commands.invite", dialog="invite", roles=MANAGERS),
    Command("revoke", "commands.revoke", dialog="revoke", roles=MANAGERS),
    # Handled by the engine itself; listed for /help and the menu.
    Command("cancel", "commands.cancel", before_onboarding=True),
)
