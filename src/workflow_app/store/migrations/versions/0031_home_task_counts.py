"""home page speed: a covering index of each group's open tasks (who claimed it, due date, step), so that my
to-do counts (due soon, overdue, awaiting my review) and the inbox's tab counts read the index alone; the full
index on (organisation_id, role, completed_at) goes: SQLite preferred it for its three equalities and sent every
counted row to the table, and every reader of a group's tasks reads open ones, which the partial indexes hold

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE: dict[str, str] = {}
"""Indexes only: nothing is lost."""

OPEN = sa.text("completed_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_inbox_tasks_open", table_name="inbox_tasks")
    op.create_index("ix_inbox_tasks_open_counts", "inbox_tasks",
                    ["organisation_id", "role", "assignee_id", "due_on", "bpmn_id", "completed_at"],
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_inbox_tasks_open_counts", table_name="inbox_tasks")
    op.create_index("ix_inbox_tasks_open", "inbox_tasks", ["organisation_id", "role", "completed_at"])
