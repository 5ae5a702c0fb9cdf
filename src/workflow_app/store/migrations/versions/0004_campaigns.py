"""campaigns: campaign records, unit submissions, campaign tasks in the inbox

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "campaigns": "SELECT count(*) FROM campaigns",
    "campaign submissions": "SELECT count(*) FROM campaign_submissions",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"],
                                name="fk_campaigns_instance_id_process_instances"),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("code", name="uq_campaigns_code"),
        sa.UniqueConstraint("instance_id", name="uq_campaigns_instance_id"),
    )
    op.create_table(
        "campaign_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name="fk_campaign_submissions_campaign_id_campaigns"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name="fk_campaign_submissions_organisation_id_organisations"),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["users.id"], name="fk_campaign_submissions_submitted_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_submissions"),
        sa.UniqueConstraint("campaign_id", "organisation_id", "kind", "period", name="uq_campaign_submissions_campaign_id"),
    )
    op.create_index("ix_campaign_submissions_campaign_id", "campaign_submissions", ["campaign_id"])
    with op.batch_alter_table("inbox_tasks") as batch_op:
        batch_op.alter_column("enterprise_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("period", sa.String(length=20), nullable=True))
        batch_op.create_foreign_key("fk_inbox_tasks_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])
        batch_op.create_index("ix_inbox_tasks_campaign_id", ["campaign_id"])


def downgrade() -> None:
    with op.batch_alter_table("inbox_tasks") as batch_op:
        batch_op.drop_index("ix_inbox_tasks_campaign_id")
        batch_op.drop_constraint("fk_inbox_tasks_campaign_id_campaigns", type_="foreignkey")
        batch_op.drop_column("period")
        batch_op.drop_column("campaign_id")
        batch_op.alter_column("enterprise_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("campaign_submissions")
    op.drop_table("campaigns")
