"""enterprise profile (一企一档): credit code, several sectors, several supervising departments with
one lead, high-risk and major-hazard-source flags, contacts, status, risk colour history

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

from workflow_app.store.name_search import initials

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "enterprises' profile fields (credit code, contacts, coordinates, flags, status)":
        "SELECT count(*) FROM organisations WHERE credit_code IS NOT NULL OR principal_name IS NOT NULL "
        "OR principal_phone IS NOT NULL OR safety_officer_name IS NOT NULL OR safety_officer_phone IS NOT NULL "
        "OR latitude IS NOT NULL OR longitude IS NOT NULL OR high_risk OR major_hazard_source "
        "OR status <> 'active'",
    "sectors beyond each enterprise's main one": "SELECT count(*) FROM enterprise_sectors es "
        "JOIN organisations o ON o.id = es.enterprise_id WHERE es.sector_code <> o.sector_code",
    "supervising departments other than the main sector's as lead": "SELECT count(*) FROM supervisions v "
        "JOIN organisations o ON o.id = v.enterprise_id LEFT JOIN sectors s ON s.code = o.sector_code "
        "WHERE NOT (v.is_lead AND v.department_id = s.department_id)",
    "risk colour changes before the current colour": "SELECT count(*) - count(DISTINCT enterprise_id) "
                                                     "FROM risk_colour_changes",
}
"""What downgrading past this revision would destroy: each a count query (see store/downgrade.py)."""


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("credit_code", sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column("high_risk", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        batch_op.add_column(sa.Column("major_hazard_source", sa.Boolean(), server_default=sa.text("false"),
                                      nullable=False))
        batch_op.add_column(sa.Column("principal_name", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("principal_phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("safety_officer_name", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("safety_officer_phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("latitude", sa.Numeric(9, 6), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Numeric(9, 6), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=10), server_default="active", nullable=False))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch_op.add_column(sa.Column("name_initials", sa.String(length=60), server_default="", nullable=False))
        batch_op.create_unique_constraint("uq_organisations_credit_code", ["credit_code"])
        batch_op.create_index("ix_organisations_name_initials", ["name_initials"])
        batch_op.create_foreign_key("fk_organisations_merged_into_id_organisations", "organisations",
                                    ["merged_into_id"], ["id"])
    op.create_table(
        "enterprise_sectors",
        sa.Column("enterprise_id", sa.Integer(), sa.ForeignKey("organisations.id",
                  name="fk_enterprise_sectors_enterprise_id_organisations"), nullable=False),
        sa.Column("sector_code", sa.String(length=40), sa.ForeignKey("sectors.code",
                  name="fk_enterprise_sectors_sector_code_sectors"), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", "sector_code", name="pk_enterprise_sectors"),
    )
    op.create_index("ix_enterprise_sectors_sector_code", "enterprise_sectors", ["sector_code"])
    op.create_table(
        "supervisions",
        sa.Column("enterprise_id", sa.Integer(), sa.ForeignKey("organisations.id",
                  name="fk_supervisions_enterprise_id_organisations"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("organisations.id",
                  name="fk_supervisions_department_id_organisations"), nullable=False),
        sa.Column("is_lead", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", "department_id", name="pk_supervisions"),
    )
    op.create_index("ix_supervisions_department_id", "supervisions", ["department_id"])
    op.create_index("uq_supervisions_lead", "supervisions", ["enterprise_id"], unique=True,
                    sqlite_where=sa.text("is_lead"), postgresql_where=sa.text("is_lead"))
    op.create_table(
        "risk_colour_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("enterprise_id", sa.Integer(), sa.ForeignKey("organisations.id",
                  name="fk_risk_colour_changes_enterprise_id_organisations"), nullable=False),
        sa.Column("colour", sa.String(length=10), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by_id", sa.Integer(), sa.ForeignKey("users.id",
                  name="fk_risk_colour_changes_set_by_id_users"), nullable=True),
        sa.Column("set_by_name", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_risk_colour_changes_enterprise_id", "risk_colour_changes", ["enterprise_id"])
    # Until now an enterprise had one sector, supervised by that sector's department: it becomes the
    # enterprise's only sector and its lead department; a colour already set starts its history.
    op.execute("INSERT INTO enterprise_sectors (enterprise_id, sector_code) "
               "SELECT o.id, o.sector_code FROM organisations o JOIN sectors s ON s.code = o.sector_code "
               "WHERE o.kind = 'enterprise'")
    op.execute("INSERT INTO supervisions (enterprise_id, department_id, is_lead) "
               "SELECT o.id, s.department_id, true FROM organisations o JOIN sectors s ON s.code = o.sector_code "
               "WHERE o.kind = 'enterprise'")
    organisations = sa.table("organisations", sa.column("id", sa.Integer()), sa.column("name_initials", sa.String()))
    named = op.get_bind().execute(sa.text("SELECT id, name FROM organisations")).all()
    for row in named:
        op.execute(organisations.update().where(organisations.c.id == row.id)
                   .values(name_initials=initials(row.name)))
    op.execute("INSERT INTO risk_colour_changes (enterprise_id, colour, set_at, set_by_name) "
               "SELECT id, risk_colour, CURRENT_TIMESTAMP, '升级前已有' FROM organisations "
               "WHERE kind = 'enterprise' AND risk_colour IS NOT NULL")


def downgrade() -> None:
    op.drop_table("risk_colour_changes")
    op.drop_table("supervisions")
    op.drop_table("enterprise_sectors")
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_constraint("fk_organisations_merged_into_id_organisations", type_="foreignkey")
        batch_op.drop_constraint("uq_organisations_credit_code", type_="unique")
        batch_op.drop_index("ix_organisations_name_initials")
        for column in ("name_initials", "version", "merged_into_id", "status", "longitude", "latitude", "safety_officer_phone",
                       "safety_officer_name", "principal_phone", "principal_name", "major_hazard_source",
                       "high_risk", "credit_code"):
            batch_op.drop_column(column)
