"""spot checks of closures: a month's reproducible random draw and each drawn hazard's result

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "spot checks": "SELECT count(*) FROM spot_checks",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("seed", sa.String(length=20), nullable=False),
        sa.Column("rate", sa.Numeric(5, 4), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["drawn_by_id"], ["users.id"], name="fk_spot_checks_drawn_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_spot_checks"),
        sa.UniqueConstraint("month", name="uq_spot_checks_month"),
    )
    op.create_table(
        "spot_check_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spot_check_id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["spot_check_id"], ["spot_checks.id"],
                                name="fk_spot_check_items_spot_check_id_spot_checks"),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"], name="fk_spot_check_items_hazard_id_hazards"),
        sa.ForeignKeyConstraint(["checked_by_id"], ["users.id"], name="fk_spot_check_items_checked_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_spot_check_items"),
        sa.UniqueConstraint("spot_check_id", "hazard_id", name="uq_spot_check_items_spot_check_id"),
    )
    op.create_index("ix_spot_check_items_spot_check_id", "spot_check_items", ["spot_check_id"])
    op.create_index("ix_spot_check_items_hazard_id", "spot_check_items", ["hazard_id"])


def downgrade() -> None:
    op.drop_table("spot_check_items")
    op.drop_table("spot_checks")
