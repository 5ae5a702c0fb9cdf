"""a public report's receipt number, for following its status without an account

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "report receipts": "SELECT count(*) FROM hazards WHERE receipt_code IS NOT NULL",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.add_column(sa.Column("receipt_code", sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint("uq_hazards_receipt_code", ["receipt_code"])


def downgrade() -> None:
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.drop_constraint("uq_hazards_receipt_code", type_="unique")
        batch_op.drop_column("receipt_code")
