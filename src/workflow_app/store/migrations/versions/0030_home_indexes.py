"""home page indexes: the overseers' figures (hazards found in a period, of all enterprises or of some)
read from an index alone (SQLite's EXPLAIN: a covering index search instead of a scan of hazards)

Revision ID: 0030
Revises: 0027
"""
from alembic import op

revision = "0030"
down_revision = "0027"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE: dict[str, str] = {}
"""Indexes only: nothing is lost."""

KPI_COLUMNS = ["status", "supervision_listed", "rectification_deadline", "overdue_since"]


def upgrade() -> None:
    op.create_index("ix_hazards_kpi_found", "hazards", ["found_on", "enterprise_id", *KPI_COLUMNS])
    op.create_index("ix_hazards_kpi_enterprise", "hazards", ["enterprise_id", "found_on", *KPI_COLUMNS])


def downgrade() -> None:
    op.drop_index("ix_hazards_kpi_enterprise", table_name="hazards")
    op.drop_index("ix_hazards_kpi_found", table_name="hazards")
