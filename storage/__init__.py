"""Persistence: SQLModel tables, queries and Alembic migrations.

It imports none of our other packages.
"""
