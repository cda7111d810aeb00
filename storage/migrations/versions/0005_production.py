"""processed updates and invite failures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:58:42.361165
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id"),
    )
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_updates_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "invite_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invite_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invite_failures_failed_at"), ["failed_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invite_failures_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invite_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invite_failures_user_id"))
        batch_op.drop_index(batch_op.f("ix_invite_failures_failed_at"))

    op.drop_table("invite_failures")
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_updates_received_at"))

    op.drop_table("processed_updates")
