"""inbox filters (enterprise, partial open-task indexes), evidence photos, public reporter

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "evidence files' records": "SELECT count(*) FROM evidence",
    "reporters' names or contacts": "SELECT count(*) FROM hazards "
                                    "WHERE reporter_name IS NOT NULL OR reporter_contact IS NOT NULL",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""

OPEN = "completed_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("inbox_tasks") as batch_op:
        batch_op.add_column(sa.Column("enterprise_id", sa.Integer(), nullable=True))
    op.execute("UPDATE inbox_tasks SET enterprise_id = "
               "(SELECT hazards.enterprise_id FROM hazards WHERE hazards.id = inbox_tasks.hazard_id)")
    with op.batch_alter_table("inbox_tasks") as batch_op:
        batch_op.alter_column("enterprise_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_inbox_tasks_enterprise_id_organisations", "organisations",
                                    ["enterprise_id"], ["id"])
    for name, columns in (("ix_inbox_tasks_open_group", ["organisation_id", "role", "due_on"]),
                          ("ix_inbox_tasks_open_enterprise", ["enterprise_id", "due_on"]),
                          ("ix_inbox_tasks_open_due", ["due_on"]),
                          ("ix_inbox_tasks_open_assignee", ["assignee_id", "due_on"])):
        op.create_index(name, "inbox_tasks", columns, sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.add_column(sa.Column("reporter_name", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("reporter_contact", sa.String(length=100), nullable=True))
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=60), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"], name="fk_evidence_hazard_id_hazards"),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"], name="fk_evidence_uploaded_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
        sa.UniqueConstraint("hazard_id", "sha256", name="uq_evidence_hazard_id"),
    )
    op.create_index("ix_evidence_hazard_id", "evidence", ["hazard_id"])
    op.create_index("ix_evidence_sha256", "evidence", ["sha256"])


def downgrade() -> None:
    op.drop_table("evidence")
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.drop_column("reporter_contact")
        batch_op.drop_column("reporter_name")
    for name in ("ix_inbox_tasks_open_group", "ix_inbox_tasks_open_enterprise", "ix_inbox_tasks_open_due",
                 "ix_inbox_tasks_open_assignee"):
        op.drop_index(name, table_name="inbox_tasks")
    with op.batch_alter_table("inbox_tasks") as batch_op:
        batch_op.drop_constraint("fk_inbox_tasks_enterprise_id_organisations", type_="foreignkey")
        batch_op.drop_column("enterprise_id")
