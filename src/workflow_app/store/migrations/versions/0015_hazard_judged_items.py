"""a hazard may be judged against several items: hazard_judged_items replaces hazards.judged_item_id

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "judged items beyond each hazard's first": "SELECT count(*) - count(DISTINCT hazard_id) FROM hazard_judged_items",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    op.create_table(
        "hazard_judged_items",
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"], name="fk_hazard_judged_items_hazard_id_hazards"),
        sa.ForeignKeyConstraint(["item_id"], ["standard_items.id"],
                                name="fk_hazard_judged_items_item_id_standard_items"),
        sa.PrimaryKeyConstraint("hazard_id", "item_id", name="pk_hazard_judged_items"),
    )
    op.create_index("ix_hazard_judged_items_item_id", "hazard_judged_items", ["item_id"])
    op.execute("INSERT INTO hazard_judged_items (hazard_id, item_id) "
               "SELECT id, judged_item_id FROM hazards WHERE judged_item_id IS NOT NULL")
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.drop_index("ix_hazards_judged_item_id")
        batch_op.drop_constraint("fk_hazards_judged_item_id_standard_items", type_="foreignkey")
        batch_op.drop_column("judged_item_id")


def downgrade() -> None:
    """Back to one item per hazard: the lowest-numbered item of each hazard is kept."""
    with op.batch_alter_table("hazards") as batch_op:
        batch_op.add_column(sa.Column("judged_item_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_hazards_judged_item_id_standard_items", "standard_items",
                                    ["judged_item_id"], ["id"])
        batch_op.create_index("ix_hazards_judged_item_id", ["judged_item_id"])
    op.execute("UPDATE hazards SET judged_item_id = (SELECT min(item_id) FROM hazard_judged_items "
               "WHERE hazard_judged_items.hazard_id = hazards.id)")
    op.drop_table("hazard_judged_items")
