"""the coach's judgement of a debrief's call outcome

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("debriefs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("judged_outcome", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("debriefs", schema=None) as batch_op:
        batch_op.drop_column("judged_outcome")
