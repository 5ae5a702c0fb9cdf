"""self-inspection checklists (对标对表自查): checklists of standard items, walks and their answers;
the enterprise principal flag on users

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "checklists": "SELECT count(*) FROM checklists",
    "self-inspections": "SELECT count(*) FROM self_inspections",
    "principal marks": "SELECT count(*) FROM users WHERE is_principal",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("is_principal", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "checklists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("sector_code", sa.String(length=40), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["organisations.id"],
                                name="fk_checklists_department_id_organisations"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name="fk_checklists_created_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_checklists"),
    )
    op.create_index("ix_checklists_sector_code", "checklists", ["sector_code"])
    op.create_table(
        "checklist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checklist_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("standard_item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["checklist_id"], ["checklists.id"], name="fk_checklist_items_checklist_id_checklists"),
        sa.ForeignKeyConstraint(["standard_item_id"], ["standard_items.id"],
                                name="fk_checklist_items_standard_item_id_standard_items"),
        sa.PrimaryKeyConstraint("id", name="pk_checklist_items"),
        sa.UniqueConstraint("checklist_id", "standard_item_id", name="uq_checklist_items_checklist_id"),
    )
    op.create_table(
        "self_inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checklist_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["checklist_id"], ["checklists.id"], name="fk_self_inspections_checklist_id_checklists"),
        sa.ForeignKeyConstraint(["enterprise_id"], ["organisations.id"],
                                name="fk_self_inspections_enterprise_id_organisations"),
        sa.ForeignKeyConstraint(["started_by_id"], ["users.id"], name="fk_self_inspections_started_by_id_users"),
        sa.ForeignKeyConstraint(["signed_by_id"], ["users.id"], name="fk_self_inspections_signed_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_self_inspections"),
    )
    op.create_index("ix_self_inspections_enterprise_id", "self_inspections", ["enterprise_id"])
    op.create_index("ix_self_inspections_submitted_at", "self_inspections", ["submitted_at"])
    op.create_index("ix_self_inspections_signed_at", "self_inspections", ["signed_at"])
    op.create_table(
        "self_inspection_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("self_inspection_id", sa.Integer(), nullable=False),
        sa.Column("checklist_item_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["self_inspection_id"], ["self_inspections.id"],
                                name="fk_self_inspection_answers_self_inspection_id_self_inspections"),
        sa.ForeignKeyConstraint(["checklist_item_id"], ["checklist_items.id"],
                                name="fk_self_inspection_answers_checklist_item_id_checklist_items"),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"], name="fk_self_inspection_answers_hazard_id_hazards"),
        sa.ForeignKeyConstraint(["answered_by_id"], ["users.id"],
                                name="fk_self_inspection_answers_answered_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_self_inspection_answers"),
        sa.UniqueConstraint("self_inspection_id", "checklist_item_id",
                            name="uq_self_inspection_answers_self_inspection_id"),
    )


def downgrade() -> None:
    op.drop_table("self_inspection_answers")
    op.drop_index("ix_self_inspections_signed_at", "self_inspections")
    op.drop_index("ix_self_inspections_submitted_at", "self_inspections")
    op.drop_index("ix_self_inspections_enterprise_id", "self_inspections")
    op.drop_table("self_inspections")
    op.drop_table("checklist_items")
    op.drop_index("ix_checklists_sector_code", "checklists")
    op.drop_table("checklists")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("is_principal")
