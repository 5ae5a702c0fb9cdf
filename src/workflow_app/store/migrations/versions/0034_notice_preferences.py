"""notice preferences: each person's choice of e-mail and SMS per notice kind (通知设置); in-app is always on;
an index of a person's own notices by instant (the notice list hides an organisation's line they have their own of)

Revision ID: 0034
Revises: 0033
"""
import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "notice preferences people chose": "SELECT count(*) FROM notice_preferences",
}
"""Downgrading drops the table: everyone's choices fall back to the defaults."""


def upgrade() -> None:
    op.create_table(
        "notice_preferences",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                         name="fk_notice_preferences_user_id_users"),
                  primary_key=True),
        sa.Column("kind", sa.String(length=40), primary_key=True),
        sa.Column("channel", sa.String(length=20), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_notices_person_created", "notices", ["recipient_user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notices_person_created", table_name="notices")
    op.drop_table("notice_preferences")
