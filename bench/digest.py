"""Benchmark: the daily digest of a zone of 500 enterprises and 2,000 people on SQLite.

Usage: python bench/digest.py [--enterprises N] [--users U] [--tasks T]
Seeds the zone of bench/inbox.py (T hazards with one open task each: enterprises', departments'
reviews, the office's triage; a third dated, some overdue), U active people (three per enterprise, the
rest spread over the towns, departments and the office; every other one with an e-mail address), then
runs the 08:30 digest once (every person) and once more (a second scheduler or a restart's catch-up:
nobody is sent a second one). Prints `<step>: X s (CPU Y s)` and how many digests went out.
Target (issue #23): the first run within a few seconds (< 10 s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from inbox import progress, seed  # bench/inbox.py: the same zone
from sqlalchemy import insert, select

from workflow_app.services import holiday_calendar
from workflow_app.services.digest import send_digests
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import Organisation, User

ROOT = Path(__file__).resolve().parents[1]
SETUP = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
AT_0830 = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)  # Thursday 08:30 in Shanghai


def people(factory, users: int) -> None:  # type: ignore[no-untyped-def]
    """Three people per enterprise (while `users` lasts), the rest in the towns, departments and office."""
    with transaction(factory) as session:
        organisations = session.execute(select(Organisation.id, Organisation.kind).order_by(Organisation.id)).all()
        enterprises = [oid for oid, kind in organisations if kind == "enterprise"]
        overseers = [(oid, kind) for oid, kind in organisations if kind != "enterprise"]
        rows = [(enterprises[n // 3], "enterprise") for n in range(min(users, 3 * len(enterprises)))]
        rows += [overseers[n % len(overseers)] for n in range(users - len(rows))]
        session.execute(insert(User), [
            {"username": f"u{n:05d}", "display_name": f"用户{n}", "role": kind, "organisation_id": oid,
             "password_hash": "x", "active": True, "email": f"u{n}@zone.example" if n % 2 else None}
            for n, (oid, kind) in enumerate(rows)])


def timed(label: str, work):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    print(f"{label}: {time.perf_counter() - started:.2f} s (CPU {time.process_time() - cpu:.2f} s)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--tasks", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'digest.db'}")
        factory = holiday_calendar.follow(make_session_factory(engine))
        init_db(engine, factory, ROOT / "bpmn", SETUP)
        seed(factory, args.tasks, args.enterprises)
        people(factory, args.users)

        def report(done: int, total: int) -> None:
            progress("digest", done, total)

        first = timed("digest at 08:30 (every person)", lambda: send_digests(factory, AT_0830, None, report))
        again = timed("again (a second scheduler / catch-up)", lambda: send_digests(factory, AT_0830, None))
        engine.dispose()
    print(f"digests: {first.sent} sent, {first.nothing} with nothing to say; the second run sent {again.sent} "
          f"({again.already} had theirs). Target: the first run < 10 s")


if __name__ == "__main__":
    main()
