"""Downgrading the schema without losing rows unawares.

Each migration whose downgrade destroys data declares `LOST_ON_DOWNGRADE`: what it would destroy,
each with a query counting the rows. Before anything changes, every revision between the database's
and the target is asked; if any would destroy rows the downgrade is refused, naming them, unless the
operator says they accept the loss (after a backup).
"""

from __future__ import annotations

from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from .migrate import alembic_config, migration_connection


class DataLossRefused(Exception):
    """A downgrade would destroy rows and the operator did not accept it."""

    def __init__(self, target: str, losses: list[str]) -> None:
        super().__init__(f"downgrading to {target} would destroy: {'; '.join(losses)}. Back up the database "
                         "first, then accept the loss explicitly to go ahead.")
        self.losses = losses


def rows_lost(connection: Connection) -> list[str]:
    """What undoing the database's current revision would destroy, one line per kind of row (its queries
    are written for the schema of that revision)."""
    revision = _script(connection).get_revision(_current(connection))
    losses = []
    for what, count_query in getattr(revision.module, "LOST_ON_DOWNGRADE", {}).items():
        count = connection.execute(text(count_query)).scalar() or 0
        if count > 0:
            losses.append(f"{count} {what} (revision {revision.revision})")
    return losses


def downgrade(engine: Engine, target: str, accept_data_loss: bool = False) -> list[str]:
    """Downgrade to `target` (a revision, "-N" or "base"), refused if rows would be destroyed unless
    `accept_data_loss`; returns what was destroyed.

    One revision at a time, each asked first what it would destroy (so that every loss is named), all
    in one transaction: a refusal at the end rolls every revision back (PostgreSQL and SQLite both undo
    DDL with the transaction).
    """
    with migration_connection(engine) as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        lost: list[str] = []
        for _ in range(_steps(connection, target)):
            lost += rows_lost(connection)
            command.downgrade(config, "-1")
        if lost and not accept_data_loss:
            raise DataLossRefused(target, lost)
    return lost


def _steps(connection: Connection, target: str) -> int:
    """How many revisions lie between the database's and `target` ("-N" counts back N)."""
    below = [r.revision for r in _script(connection).iterate_revisions(_current(connection), "base")]
    if target.startswith("-") and target[1:].isdigit():
        return min(int(target[1:]), len(below))
    if target != "base" and target not in below:
        raise ValueError(f"revision {target} is not below the database's revision {below[0]}")
    return below.index(target) if target != "base" else len(below)


def _script(connection: Connection) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(connection.engine.url.render_as_string(hide_password=False)))


def _current(connection: Connection) -> str:
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        raise ValueError("the database has no schema to downgrade")
    return current
