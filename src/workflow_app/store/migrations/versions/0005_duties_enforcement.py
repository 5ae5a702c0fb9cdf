"""enterprise duties, liaison teams, enforcement inspections, penalty flags on hazards

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "duties": "SELECT count(*) FROM duties",
    "liaison assignments": "SELECT count(*) FROM liaison_assignments",
    "enforcement inspections": "SELECT count(*) FROM inspections",
    "hazards' penalty decisions": "SELECT count(*) FROM hazards WHERE penalty IS NOT NULL",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    op.create_table(
        "duties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("overdue_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["organisations.id"], name="fk_duties_enterprise_id_organisations"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"],
                                name="fk_duties_instance_id_process_instances"),
        sa.PrimaryKeyConstraint("id", name="pk_duties"),
        sa.UniqueConstraint("enterprise_id", "kind", "period", name="uq_duties_enterprise_id"),
        sa.UniqueConstraint("instance_id", name="uq_duties_instance_id"),
    )
    op.create_index("ix_duties_enterprise_id", "duties", ["enterprise_id"])
    op.create_table(
        "liaison_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["organisations.id"],
                                name="fk_liaison_assignments_enterprise_id_organisations"),
        sa.ForeignKeyConstraint(["department_id"], ["organisations.id"],
                                name="fk_liaison_assignments_department_id_organisations"),
        sa.PrimaryKeyConstraint("id", name="pk_liaison_assignments"),
        sa.UniqueConstraint("enterprise_id", "year", name="uq_liaison_assignments_enterprise_id"),
    )
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["organisations.id"], name="fk_inspections_enterprise_id_organisations"),
        sa.ForeignKeyConstraint(["department_id"], ["organisations.id"], name="fk_inspections_department_id_organisations"),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"], name="fk_inspections_recorded_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_inspections"),
    )
    op.create_index("ix_inspections_enterprise_id", "inspections", ["enterprise_id"])
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.add_column(sa.Column("inspection_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("penalty", sa.String(length=20), nullable=True))
        batch_op.create_foreign_key("fk_hazards_inspection_id_inspections", "inspections", ["inspection_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.drop_constraint("fk_hazards_inspection_id_inspections", type_="foreignkey")
        batch_op.drop_column("penalty")
        batch_op.drop_column("inspection_id")
    op.drop_table("inspections")
    op.drop_table("liaison_assignments")
    op.drop_table("duties")
