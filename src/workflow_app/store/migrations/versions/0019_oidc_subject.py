"""single sign-on: the OpenID Connect subject an account is linked to

One issuer per deployment (WORKFLOW_APP_OIDC_ISSUER), so the subject alone names the person:
unique across accounts, empty for an account that signs in with its password only.

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE = {
    "accounts' single sign-on links": "SELECT count(*) FROM users WHERE oidc_subject IS NOT NULL",
}
"""What downgrading past this revision would destroy: each a count query (main's store/downgrade.py reads it)."""


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint("uq_users_oidc_subject", ["oidc_subject"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_oidc_subject", type_="unique")
        batch_op.drop_column("oidc_subject")
