"""cases (runs of other models: permits, third-party processes) and incidents

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "permits and cases": "SELECT count(*) FROM cases",
    "incidents": "SELECT count(*) FROM incidents",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["organisations.id"], name="fk_cases_enterprise_id_organisations"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"],
                                name="fk_cases_instance_id_process_instances"),
        sa.ForeignKeyConstraint(["started_by_id"], ["users.id"], name="fk_cases_started_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("code", name="uq_cases_code"),
        sa.UniqueConstraint("instance_id", name="uq_cases_instance_id"),
    )
    op.create_index("ix_cases_process_id", "cases", ["process_id"])
    op.create_index("ix_cases_enterprise_id", "cases", ["enterprise_id"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("bpmn_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("skippable", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"],
                                name="fk_incidents_instance_id_process_instances"),
        sa.ForeignKeyConstraint(["resolved_by_id"], ["users.id"], name="fk_incidents_resolved_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_instance_id", "incidents", ["instance_id"])
    op.create_index("ix_incidents_open", "incidents", ["resolved_at", "occurred_at"])
    with op.batch_alter_table("inbox_tasks") as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_inbox_tasks_case_id_cases", "cases", ["case_id"], ["id"])
        batch_op.create_index("ix_inbox_tasks_case_id", ["case_id"])


def downgrade() -> None:
    with op.batch_alter_table("inbox_tasks") as batch_op:
        batch_op.drop_index("ix_inbox_tasks_case_id")
        batch_op.drop_constraint("fk_inbox_tasks_case_id_cases", type_="foreignkey")
        batch_op.drop_column("case_id")
    op.drop_table("incidents")
    op.drop_table("cases")
