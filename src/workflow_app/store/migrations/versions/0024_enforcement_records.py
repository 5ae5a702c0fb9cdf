"""enforcement records: penalties, yearly inspection plans (双随机), supervision listings (挂牌督办),
issued documents with serial numbers, rewards on hazards; a liaison team per department

Revision ID: 0024
Revises: 0023
"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "penalties": "SELECT count(*) FROM penalties",
    "inspection plans": "SELECT count(*) FROM inspection_plans",
    "supervision listings": "SELECT count(*) FROM supervision_listings",
    "issued documents": "SELECT count(*) FROM issued_documents",
    "rewards granted": "SELECT count(*) FROM hazards WHERE reward_amount IS NOT NULL",
    "second liaison teams of an enterprise in a year": (
        "SELECT count(*) - count(DISTINCT enterprise_id || '-' || year) FROM liaison_assignments"),
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    with op.batch_alter_table("liaison_assignments") as batch_op:
        batch_op.drop_constraint("uq_liaison_assignments_enterprise_id", type_="unique")
        batch_op.create_unique_constraint("uq_liaison_assignments_enterprise_id",
                                          ["enterprise_id", "year", "department_id"])
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.add_column(sa.Column("reward_amount", sa.Numeric(14, 2), nullable=True))
        batch_op.add_column(sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "penalties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.Column("case_number", sa.String(length=60), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("target", sa.String(length=10), nullable=False),
        sa.Column("target_name", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("linked_penalty_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("penalties", "inspection_id", "inspections"),
        _fk("penalties", "enterprise_id", "organisations"),
        _fk("penalties", "department_id", "organisations"),
        _fk("penalties", "hazard_id", "hazards"),
        _fk("penalties", "linked_penalty_id", "penalties"),
        _fk("penalties", "recorded_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_penalties"),
        sa.UniqueConstraint("department_id", "case_number", "target", name="uq_penalties_department_id"),
    )
    op.create_index("ix_penalties_inspection_id", "penalties", ["inspection_id"])
    op.create_index("ix_penalties_enterprise_id", "penalties", ["enterprise_id"])
    op.create_index("ix_penalties_hazard_id", "penalties", ["hazard_id"])
    op.create_table(
        "inspection_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=20), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("enterprise_pool", sa.JSON(), nullable=False),
        sa.Column("inspector_pool", sa.JSON(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by_id", sa.Integer(), nullable=False),
        _fk("inspection_plans", "department_id", "organisations"),
        _fk("inspection_plans", "drawn_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_plans"),
        sa.UniqueConstraint("department_id", "year", name="uq_inspection_plans_department_id"),
    )
    op.create_table(
        "inspection_plan_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("inspectors", sa.JSON(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=True),
        _fk("inspection_plan_entries", "plan_id", "inspection_plans"),
        _fk("inspection_plan_entries", "enterprise_id", "organisations"),
        _fk("inspection_plan_entries", "inspection_id", "inspections"),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_plan_entries"),
        sa.UniqueConstraint("plan_id", "enterprise_id", name="uq_inspection_plan_entries_plan_id"),
    )
    op.create_index("ix_inspection_plan_entries_plan_id", "inspection_plan_entries", ["plan_id"])
    op.create_table(
        "supervision_listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposing_department_id", sa.Integer(), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposal_reason", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_opinion", sa.Text(), nullable=True),
        sa.Column("supervising_unit_id", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("stop_production", sa.Boolean(), nullable=False),
        sa.Column("reinspected_by_id", sa.Integer(), nullable=True),
        sa.Column("reinspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reinspection_opinion", sa.Text(), nullable=True),
        sa.Column("production_resumed_by_id", sa.Integer(), nullable=True),
        sa.Column("production_resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delisted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("supervision_listings", "hazard_id", "hazards"),
        _fk("supervision_listings", "instance_id", "process_instances"),
        _fk("supervision_listings", "proposing_department_id", "organisations"),
        _fk("supervision_listings", "proposed_by_id", "users"),
        _fk("supervision_listings", "decided_by_id", "users"),
        _fk("supervision_listings", "supervising_unit_id", "organisations"),
        _fk("supervision_listings", "reinspected_by_id", "users"),
        _fk("supervision_listings", "production_resumed_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_listings"),
        sa.UniqueConstraint("instance_id", name="uq_supervision_listings_instance_id"),
    )
    op.create_index("ix_supervision_listings_hazard_id", "supervision_listings", ["hazard_id"])
    op.create_table(
        "issued_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        _fk("issued_documents", "issuer_id", "organisations"),
        _fk("issued_documents", "issued_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_issued_documents"),
        sa.UniqueConstraint("issuer_id", "kind", "year", "number", name="uq_issued_documents_issuer_id"),
        sa.UniqueConstraint("kind", "subject_type", "subject_id", name="uq_issued_documents_subject"),
    )


def downgrade() -> None:
    op.drop_table("issued_documents")
    op.drop_index("ix_supervision_listings_hazard_id", table_name="supervision_listings")
    op.drop_table("supervision_listings")
    op.drop_index("ix_inspection_plan_entries_plan_id", table_name="inspection_plan_entries")
    op.drop_table("inspection_plan_entries")
    op.drop_table("inspection_plans")
    op.drop_index("ix_penalties_hazard_id", table_name="penalties")
    op.drop_index("ix_penalties_enterprise_id", table_name="penalties")
    op.drop_index("ix_penalties_inspection_id", table_name="penalties")
    op.drop_table("penalties")
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.drop_column("rewarded_at")
        batch_op.drop_column("reward_amount")
    with op.batch_alter_table("liaison_assignments") as batch_op:
        batch_op.drop_constraint("uq_liaison_assignments_enterprise_id", type_="unique")
        batch_op.create_unique_constraint("uq_liaison_assignments_enterprise_id", ["enterprise_id", "year"])
