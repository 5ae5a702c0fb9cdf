"""Alembic environment: the URL comes from the caller (workflow-app init-db) or the config."""

from alembic import context
from sqlalchemy import Connection, text

from workflow_app.store.database import make_engine
from workflow_app.store.models import Base

config = context.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":  # keys were off while tables were rebuilt: check them all now
            broken = connection.execute(text("PRAGMA foreign_key_check")).all()
            if broken:
                raise RuntimeError(f"migration left rows pointing at missing rows: {broken[:5]}")


def run_migrations() -> None:
    """Run migrations online on the connection given by the caller, or a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _migrate(conn)


run_migrations()
