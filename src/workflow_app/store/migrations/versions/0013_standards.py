"""major-hazard judgement standards (editions and items) and the item a hazard was judged against

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "judgement standards": "SELECT count(*) FROM standards",
    "hazards' judged items": "SELECT count(*) FROM hazards WHERE judged_item_id IS NOT NULL",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    op.create_table(
        "standards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=False),
        sa.Column("doc_number", sa.String(length=100), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["replaces_id"], ["standards.id"], name="fk_standards_replaces_id_standards"),
        sa.PrimaryKeyConstraint("id", name="pk_standards"),
        sa.UniqueConstraint("code", name="uq_standards_code"),
    )
    op.create_table(
        "standard_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["standard_id"], ["standards.id"], name="fk_standard_items_standard_id_standards"),
        sa.PrimaryKeyConstraint("id", name="pk_standard_items"),
        sa.UniqueConstraint("standard_id", "number", name="uq_standard_items_standard_id"),
    )
    op.create_index("ix_standard_items_standard_id", "standard_items", ["standard_id"])
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.add_column(sa.Column("judged_item_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_hazards_judged_item_id_standard_items", "standard_items",
                                    ["judged_item_id"], ["id"])
        batch_op.create_index("ix_hazards_judged_item_id", ["judged_item_id"])


def downgrade() -> None:
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.drop_index("ix_hazards_judged_item_id")
        batch_op.drop_constraint("fk_hazards_judged_item_id_standard_items", type_="foreignkey")
        batch_op.drop_column("judged_item_id")
    op.drop_table("standard_items")
    op.drop_table("standards")
