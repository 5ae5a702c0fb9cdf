"""inspection details: the inspectors named on an inspection, and how many inspectors a yearly
plan draws per enterprise (so its draw is redone from what the plan row records)

Revision ID: 0027
Revises: 0024
"""
import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0024"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "inspectors named on inspections": "SELECT count(*) FROM inspections WHERE inspectors IS NOT NULL",
}
"""What downgrading past this revision would destroy (the plans' count is also in their entries)."""


def upgrade() -> None:
    with op.batch_alter_table("inspections") as batch_op:
        batch_op.add_column(sa.Column("inspectors", sa.String(length=200), nullable=True))
    with op.batch_alter_table("inspection_plans") as batch_op:
        batch_op.add_column(sa.Column("per_enterprise", sa.Integer(), server_default=sa.text("1"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("inspection_plans") as batch_op:
        batch_op.drop_column("per_enterprise")
    with op.batch_alter_table("inspections") as batch_op:
        batch_op.drop_column("inspectors")
