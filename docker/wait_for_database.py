"""Wait until the database of WORKFLOW_APP_DATABASE_URL accepts a connection (the container's first step).

Usage: python3 wait_for_database.py SECONDS. Exits 0 as soon as a connection opens, 1 naming the
database and the last error when none opened within SECONDS (a container then stops, and its
orchestrator restarts it, instead of serving errors).
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from workflow_app.config import Settings
from workflow_app.store.database import make_engine


def connect_once(url: str, timeout: float) -> None:
    """Open one connection and run SELECT 1; raises DBAPIError when the database does not answer.

    A SQLite file is opened as the app opens it (its folder created); a server gets a connect
    timeout, so that a host that swallows packets does not hold the wait beyond its limit.
    """
    if make_url(url).get_backend_name() == "sqlite":
        engine = make_engine(url)
    else:
        engine = create_engine(url, connect_args={"connect_timeout": max(2, round(timeout))})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def wait_for_database(url: str, seconds: float) -> str | None:
    """Try to connect every second for up to `seconds`; None once connected, else the last error."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connect_once(url, deadline - time.monotonic())
            return None
        except DBAPIError as exc:
            error = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if time.monotonic() + 1 > deadline:
            return error
        time.sleep(1)


def main(argv: list[str]) -> int:
    """Wait for the configured database; the exit status says whether it answered."""
    seconds = float(argv[1]) if len(argv) > 1 else 60.0
    url = Settings.from_env().database_url
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"waiting for the database at {shown} (up to {seconds:g} s)", file=sys.stderr)
    error = wait_for_database(url, seconds)
    if error is not None:
        print(f"database at {shown} not reachable within {seconds:g} s: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
