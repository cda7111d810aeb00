"""Feishu / Lark events already taken in, so a re-delivered one is handled once

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feishu_events",
        sa.Column("event_id", sa.String(length=96), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("feishu_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feishu_events_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feishu_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feishu_events_received_at"))
    op.drop_table("feishu_events")
