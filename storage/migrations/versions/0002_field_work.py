"""field work

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:33:23.954810
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("industry", sa.String(length=32), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("customer_type", sa.String(length=16), nullable=False),
        sa.Column("contribution", sa.String(length=8), nullable=True),
        sa.Column("stability", sa.String(length=8), nullable=True),
        sa.Column("tier", sa.String(length=8), nullable=True),
        sa.Column("short_term", sa.Integer(), nullable=True),
        sa.Column("long_term", sa.Integer(), nullable=True),
        sa.Column("value_class", sa.Integer(), nullable=True),
        sa.Column("territory", sa.String(length=8), nullable=True),
        sa.Column("lead", sa.String(length=8), nullable=True),
        sa.Column("opening", sa.String(length=1), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "account_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=False),
        sa.Column("field_name", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.String(length=32), nullable=True),
        sa.Column("new_value", sa.String(length=32), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_changes_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_changes_changed_at"), ["changed_at"], unique=False
        )

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("stance", sa.String(length=16), nullable=False),
        sa.Column("relationship", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_account_id"), ["account_id"], unique=False)

    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("contact_name", sa.String(length=80), nullable=True),
        sa.Column("contact_role", sa.String(length=16), nullable=True),
        sa.Column("objective", sa.Text(), nullable=True),
        sa.Column("customer_action", sa.Text(), nullable=True),
        sa.Column("territory", sa.String(length=8), nullable=True),
        sa.Column("lead", sa.String(length=8), nullable=True),
        sa.Column("opening", sa.String(length=1), nullable=True),
        sa.Column("strategy", sa.String(length=16), nullable=True),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("objections", sa.JSON(), nullable=False),
        sa.Column("proof", sa.JSON(), nullable=False),
        sa.Column("next_hook", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visits_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visits_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visits_planned_at"), ["planned_at"], unique=False)

    op.create_table(
        "debriefs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("feelings", sa.Text(), nullable=True),
        sa.Column("objective", sa.Text(), nullable=True),
        sa.Column("plan", sa.Text(), nullable=True),
        sa.Column("happened", sa.Text(), nullable=True),
        sa.Column("why_customer", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("went_best", sa.Text(), nullable=True),
        sa.Column("improve", sa.Text(), nullable=True),
        sa.Column("ratings", sa.JSON(), nullable=False),
        sa.Column("next_step", sa.Text(), nullable=True),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("debriefs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debriefs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_debriefs_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_debriefs_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "objection_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("customer_words", sa.Text(), nullable=True),
        sa.Column("objection_type", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("objection_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_objection_logs_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_objection_logs_objection_type"), ["objection_type"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_objection_logs_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "probe_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("probe_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_probe_plans_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_probe_plans_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("debrief_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["debrief_id"],
            ["debriefs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_ups_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_ups_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("implication_asked", sa.Boolean(), nullable=False),
        sa.Column("need_payoff_asked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["probe_id"],
            ["probe_plans.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_needs_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_needs_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("needs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_needs_owner_id"))
        batch_op.drop_index(batch_op.f("ix_needs_account_id"))

    op.drop_table("needs")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_owner_id"))
        batch_op.drop_index(batch_op.f("ix_follow_ups_due_at"))

    op.drop_table("follow_ups")
    with op.batch_alter_table("probe_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_probe_plans_owner_id"))
        batch_op.drop_index(batch_op.f("ix_probe_plans_account_id"))

    op.drop_table("probe_plans")
    with op.batch_alter_table("objection_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objection_logs_owner_id"))
        batch_op.drop_index(batch_op.f("ix_objection_logs_objection_type"))
        batch_op.drop_index(batch_op.f("ix_objection_logs_created_at"))

    op.drop_table("objection_logs")
    with op.batch_alter_table("debriefs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debriefs_visit_id"))
        batch_op.drop_index(batch_op.f("ix_debriefs_owner_id"))
        batch_op.drop_index(batch_op.f("ix_debriefs_created_at"))

    op.drop_table("debriefs")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_planned_at"))
        batch_op.drop_index(batch_op.f("ix_visits_owner_id"))
        batch_op.drop_index(batch_op.f("ix_visits_account_id"))

    op.drop_table("visits")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_account_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("account_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_changes_changed_at"))
        batch_op.drop_index(batch_op.f("ix_account_changes_account_id"))

    op.drop_table("account_changes")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_owner_id"))

    op.drop_table("accounts")
