"""objection labels picked by reps

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "objection_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("predicted", sa.String(length=32), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("objection_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objection_labels_owner_id"), ["owner_id"])
        batch_op.create_index(batch_op.f("ix_objection_labels_created_at"), ["created_at"])


def downgrade() -> None:
    with op.batch_alter_table("objection_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objection_labels_created_at"))
        batch_op.drop_index(batch_op.f("ix_objection_labels_owner_id"))
    op.drop_table("objection_labels")
