"""The rep's field work: accounts, visit preparation, probing, objections, debriefs, follow-ups.

Imports `dialogs.core`, `playbooks` and `storage`; `reminder_messages` also composes
the manager's and practice messages it delivers.
"""
