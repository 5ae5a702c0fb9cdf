"""notices to named people: a notice may be addressed to one user (the claimant of a task, the named 责任人,
a safety officer) as well as to their organisation, so that SMS and personal e-mail reach the person who can act

Revision ID: 0032
Revises: 0031
"""
import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "notices addressed to a person": "SELECT count(*) FROM notices WHERE recipient_user_id IS NOT NULL",
}
"""Downgrading drops the column: who each personal notice went to would be lost."""


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch_op:
        batch_op.add_column(sa.Column("recipient_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_notices_recipient_user_id_users", "users", ["recipient_user_id"], ["id"])
        batch_op.create_index("ix_notices_recipient_user_id", ["recipient_user_id"])


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch_op:
        batch_op.drop_index("ix_notices_recipient_user_id")
        batch_op.drop_constraint("fk_notices_recipient_user_id_users", type_="foreignkey")
        batch_op.drop_column("recipient_user_id")
