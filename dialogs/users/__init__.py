"""What every user does: onboarding, profile, language and time zone, teams, settings, privacy.

Imports `dialogs.core`, `playbooks` and `storage`.
"""
