"""The dialog engine: declared steps, answer kinds, button data, texts and dates.

Imports `playbooks` and `storage` only; every other part of `dialogs` builds on it.
"""
