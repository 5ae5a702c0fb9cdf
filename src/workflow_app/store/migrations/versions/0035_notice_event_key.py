"""notices name their event: an organisation's in-app line is hidden from a person who got the same event by name,
matched by the event key through an index (it compared instant, kind and subject row by row); the notice list's
two kinds of line (a person's own, their organisation's) each have an index in id order, and unread notices a
partial one, so the list and the unread badge every page shows read a page's worth of rows, not all of them

Revision ID: 0035
Revises: 0034
"""
import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

BATCH = 1000
UNREAD = "read_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch_op:
        batch_op.add_column(sa.Column("event_key", sa.String(length=200), nullable=True))
    _backfill_event_keys()
    op.drop_index("ix_notices_person_created", table_name="notices")
    op.drop_index("ix_notices_recipient_user_id", table_name="notices")
    op.drop_index("ix_notices_recipient_org_id", table_name="notices")
    op.create_index("ix_notices_person_lines", "notices", ["recipient_user_id", "id"])
    op.create_index("ix_notices_org_lines", "notices", ["recipient_org_id", "recipient_user_id", "id"])
    op.create_index("ix_notices_person_event", "notices", ["recipient_user_id", "event_key"])
    op.create_index("ix_notices_unread", "notices", ["recipient_user_id", "recipient_org_id", "channel"],
                    sqlite_where=sa.text(UNREAD), postgresql_where=sa.text(UNREAD))


def _backfill_event_keys() -> None:
    """Every notice so far was keyed `{event}:{organisation id or u<user id>}:{channel}`: the event is what
    precedes the last two parts."""
    connection = op.get_bind()
    notices = sa.table("notices", sa.column("id", sa.Integer), sa.column("idempotency_key", sa.String),
                       sa.column("event_key", sa.String))
    last_id = 0
    while True:
        rows = connection.execute(sa.select(notices.c.id, notices.c.idempotency_key)
                                  .where(notices.c.id > last_id).order_by(notices.c.id).limit(BATCH)).all()
        if not rows:
            return
        updates = [{"row_id": row.id, "event": row.idempotency_key.rsplit(":", 2)[0]}
                   for row in rows if row.idempotency_key.count(":") >= 2]
        if updates:
            connection.execute(notices.update().where(notices.c.id == sa.bindparam("row_id"))
                               .values(event_key=sa.bindparam("event")), updates)
        last_id = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_notices_unread", table_name="notices")
    op.drop_index("ix_notices_person_event", table_name="notices")
    op.drop_index("ix_notices_org_lines", table_name="notices")
    op.drop_index("ix_notices_person_lines", table_name="notices")
    op.create_index("ix_notices_recipient_org_id", "notices", ["recipient_org_id"])
    op.create_index("ix_notices_recipient_user_id", "notices", ["recipient_user_id"])
    op.create_index("ix_notices_person_created", "notices", ["recipient_user_id", "created_at"])
    with op.batch_alter_table("notices") as batch_op:
        batch_op.drop_column("event_key")
