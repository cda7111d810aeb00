"""Every dialog and command, registered in one place.

Each area module exports `DIALOGS` and `COMMANDS`; adding an area is one
import and one entry in `AREAS`.
"""

from __future__ import annotations

from types import ModuleType

from dialogs.core.steps import Action, Command, Dialog
from dialogs.field import (
    account_dialog,
    debrief_dialog,
    followups,
    objection_dialog,
    probe_dialog,
    today,
    visit_dialog,
)
from dialogs.manager import team_dialog
from dialogs.practice import practice_dialog, trio_dialog
from dialogs.users import front_door, privacy, reminder_settings
from dialogs.users.onboarding import ONBOARDING
from dialogs.users.profile import LANGUAGE, TIMEZONE, show_help, show_profile
from dialogs.users.teams import INVITE, NEW_TEAM, REVOKE, join_command

MANAGERS = frozenset({"manager"})
FIELD = frozenset({"rep", "manager", "trainee"})

_CORE_DIALOGS: tuple[Dialog, ...] = (ONBOARDING, LANGUAGE, TIMEZONE, NEW_TEAM, INVITE, REVOKE)

_CORE_COMMANDS: tuple[Command, ...] = (
    Command("start", "commands.start", dialog="onboarding", before_onboarding=True),
    Command("help", "commands.help", run=show_help, before_onboarding=True),
)

_PROFILE_COMMANDS: tuple[Command, ...] = (
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

# The field areas, in the order their commands appear in /help.
AREAS: tuple[ModuleType, ...] = (
    today,
    account_dialog,
    visit_dialog,
    probe_dialog,
    objection_dialog,
    practice_dialog,
    trio_dialog,
    debrief_dialog,
    followups,
    reminder_settings,
    privacy,
    team_dialog,
    front_door,
)

DIALOGS: tuple[Dialog, ...] = (
    *_CORE_DIALOGS,
    *(dialog for area in AREAS for dialog in area.DIALOGS),
)
COMMANDS: tuple[Command, ...] = (
    *_CORE_COMMANDS,
    *(command for area in AREAS for command in area.COMMANDS),
    *_PROFILE_COMMANDS,
)
# Buttons outside dialogs (a reminder's Done, Snooze…), by data prefix.
ACTIONS: dict[str, Action] = {
    prefix: action for area in AREAS for prefix, action in getattr(area, "ACTIONS", {}).items()
}
