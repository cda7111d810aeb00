"""Delivery: the Telegram bot, the terminal chat, the command line and settings.

It may import `dialogs`, `playbooks` and `storage`; nothing imports it.
"""
