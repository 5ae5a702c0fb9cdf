"""delegations: a user away names a substitute for a date range

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "delegations": "SELECT count(*) FROM delegations",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("substitute_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_delegations_user_id_users"),
        sa.ForeignKeyConstraint(["substitute_id"], ["users.id"], name="fk_delegations_substitute_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_delegations"),
    )
    op.create_index("ix_delegations_user_id", "delegations", ["user_id"])
    op.create_index("ix_delegations_substitute", "delegations", ["substitute_id", "starts_on", "ends_on"])


def downgrade() -> None:
    op.drop_table("delegations")
