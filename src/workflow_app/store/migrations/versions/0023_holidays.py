"""holiday table: days that differ from Monday-Friday and the years whose schedule is complete

Revision ID: 0023
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {"imported holiday days": "SELECT count(*) FROM calendar_days WHERE source = 'import'"}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py).
The days seeded from the chinese_calendar package are not counted: init-db seeds them again."""


def upgrade() -> None:
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["imported_by_id"], ["users.id"], name="fk_calendar_days_imported_by_id_users"),
        sa.PrimaryKeyConstraint("day", name="pk_calendar_days"),
    )
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["imported_by_id"], ["users.id"], name="fk_calendar_years_imported_by_id_users"),
        sa.PrimaryKeyConstraint("year", name="pk_calendar_years"),
    )


def downgrade() -> None:
    op.drop_table("calendar_years")
    op.drop_table("calendar_days")
