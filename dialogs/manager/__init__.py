"""The manager's work: the team, coaching comments and the weekly digest.

Imports `dialogs.core`, `dialogs.users` (quiet-hours clock times), `playbooks` and `storage`.
"""
