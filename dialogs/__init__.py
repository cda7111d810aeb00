"""Conversations, independent of any chat transport.

Owns the dialog engine (declared steps, answer kinds, back/skip/cancel,
per-user state in the database) and the dialogs built on it. It may import
`playbooks` and `storage`, never `telegram` or `bot`.
"""
