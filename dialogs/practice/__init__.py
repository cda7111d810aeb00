"""Trainees' practice: role-play drills, their scoring, the AI customer and progress charts.

Imports `dialogs.core`, `dialogs.field` (text normalisation), `playbooks` and `storage`.
"""
