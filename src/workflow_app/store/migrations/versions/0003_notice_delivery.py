"""notice delivery: channels per organisation, retries and leases, read marks, job runs

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "organisations' notice e-mail addresses or webhooks": "SELECT count(*) FROM organisations "
                                                          "WHERE email IS NOT NULL OR webhook_url IS NOT NULL",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("webhook_url", sa.String(length=500), nullable=True))
    with op.batch_alter_table("notices") as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE notices SET status = 'sent', sent_at = created_at WHERE channel = 'in_app' AND status = 'pending'")
    op.create_index("ix_notices_due", "notices", ["status", "next_attempt_at"])
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Numeric(12, 1), nullable=True),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_job_runs"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_index("ix_notices_due", table_name="notices")
    with op.batch_alter_table("notices") as batch_op:
        for column in ("read_at", "last_error", "lease_until", "next_attempt_at"):
            batch_op.drop_column(column)
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_column("webhook_url")
        batch_op.drop_column("email")
