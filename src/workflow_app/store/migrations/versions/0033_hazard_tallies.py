"""home page speed: hazard tallies (hazard_tallies), how many hazards each enterprise found on each day in each
state (open, overdue-marked, closed, rejected) and listing, kept by database triggers in the same transaction as
every insert, update or delete of a hazard (whatever writes it: the ORM, a bulk UPDATE, a hand-made fix), so the
overseers' KPI tiles add up a few tally rows instead of counting every hazard; a partial index of the live hazards
not yet marked overdue, by deadline (the tiles' other overdue ones); the open tasks' enterprise index holds
completed_at, so that a supervisor's `watch` count reads the index alone

Revision ID: 0033
Revises: 0032
"""
import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

LOST_ON_DOWNGRADE: dict[str, str] = {}
"""The tallies are derived from the hazards: nothing is lost."""

OPEN = sa.text("completed_at IS NULL")
UNMARKED_LIVE = sa.text("status NOT IN ('closed', 'rejected') AND overdue_since IS NULL")
KEY = "enterprise_id, found_on, state, listed"


def _state(row: str) -> str:
    """The tally state of a hazard row (NEW, OLD or the table itself): the same words as HazardTally.state."""
    return (f"CASE WHEN {row}status = 'closed' THEN 'closed' WHEN {row}status = 'rejected' THEN 'rejected' "
            f"WHEN {row}overdue_since IS NOT NULL THEN 'overdue' ELSE 'open' END")


def _add(row: str, sign: str) -> str:
    """Count the hazard `row` in (+) or out (-) of its tally; an upsert, as the first hazard of a key has none."""
    return (f"INSERT INTO hazard_tallies ({KEY}, hazards) VALUES ({row}enterprise_id, {row}found_on, {_state(row)}, "
            f"{row}supervision_listed, {sign}1) ON CONFLICT ({KEY}) DO UPDATE SET hazards = hazard_tallies.hazards "
            f"{sign} 1")


CHANGED = "enterprise_id, found_on, status, supervision_listed, overdue_since"
SAME_KEY = ("OLD.enterprise_id = NEW.enterprise_id AND OLD.found_on = NEW.found_on AND {old} = {new} "
            "AND OLD.supervision_listed = NEW.supervision_listed").format(old=_state("OLD."), new=_state("NEW."))

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER hazard_tallies_insert AFTER INSERT ON hazards BEGIN {_add('NEW.', '+')}; END",
    f"CREATE TRIGGER hazard_tallies_delete AFTER DELETE ON hazards BEGIN {_add('OLD.', '-')}; END",
    f"CREATE TRIGGER hazard_tallies_update AFTER UPDATE OF {CHANGED} ON hazards WHEN NOT ({SAME_KEY}) "
    f"BEGIN {_add('OLD.', '-')}; {_add('NEW.', '+')}; END",
]
POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION hazard_tallies_follow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND ({SAME_KEY}) THEN  -- parenthesised: the CASEs' THENs would end the IF
        RETURN NULL;
      END IF;
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {_add('OLD.', '-')};
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {_add('NEW.', '+')};
      END IF;
      RETURN NULL;
    END $$""",
    f"CREATE TRIGGER hazard_tallies_follow AFTER INSERT OR DELETE OR UPDATE OF {CHANGED} ON hazards "
    "FOR EACH ROW EXECUTE FUNCTION hazard_tallies_follow()",
]


def upgrade() -> None:
    op.create_table(
        "hazard_tallies",
        sa.Column("enterprise_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("hazards", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", "found_on", "state", "listed"),
    )
    op.create_index("ix_hazard_tallies_found", "hazard_tallies",
                    ["found_on", "enterprise_id", "state", "listed", "hazards"])
    op.execute(f"INSERT INTO hazard_tallies ({KEY}, hazards) SELECT enterprise_id, found_on, {_state('')}, "
               "supervision_listed, count(*) FROM hazards GROUP BY 1, 2, 3, 4")
    for statement in POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)
    op.create_index("ix_hazards_due_unmarked", "hazards", ["rectification_deadline", "enterprise_id", "found_on", "status",
                                                         "overdue_since"],
                    sqlite_where=UNMARKED_LIVE, postgresql_where=UNMARKED_LIVE)
    op.drop_index("ix_inbox_tasks_open_enterprise", table_name="inbox_tasks")
    op.create_index("ix_inbox_tasks_open_enterprise", "inbox_tasks", ["enterprise_id", "due_on", "completed_at"],
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_inbox_tasks_open_enterprise", table_name="inbox_tasks")
    op.create_index("ix_inbox_tasks_open_enterprise", "inbox_tasks", ["enterprise_id", "due_on"],
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.drop_index("ix_hazards_due_unmarked", table_name="hazards")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER hazard_tallies_follow ON hazards")
        op.execute("DROP FUNCTION hazard_tallies_follow()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER hazard_tallies_{name}")
    op.drop_index("ix_hazard_tallies_found", table_name="hazard_tallies")
    op.drop_table("hazard_tallies")
