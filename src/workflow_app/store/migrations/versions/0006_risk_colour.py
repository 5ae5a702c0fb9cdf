"""enterprise risk grade (four colours)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "enterprises' risk colours": "SELECT count(*) FROM organisations WHERE risk_colour IS NOT NULL",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("risk_colour", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_column("risk_colour")
