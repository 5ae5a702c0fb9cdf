"""Benchmark: the unread count every page shows, and the 通知 list, for a person of a busy organisation.

Usage: python bench/notice_centre.py [--notices N] [--database URL]
Writes N in-app notices to one enterprise and, for every second event, a personal one to one of its 20 people
(the same event: those hide the organisation's line from that person), plus N to other organisations, into a
fresh database (SQLite by default). Prints the median of 50 runs of `unread_count` and `inbox_notices` for one
person. Target: under 10 ms each at N = 20,000 (the count runs on every page).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from workflow_app.services.notice_centre import inbox_notices, unread_count
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.migrate import upgrade_to_head
from workflow_app.store.models import Notice, Organisation, User

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def seed(factory, notices: int) -> User:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        mine = Organisation(code="E1", name="企业", kind="enterprise")
        other = Organisation(code="E2", name="他企业", kind="enterprise")
        s.add_all([mine, other])
        s.flush()
        people = [User(username=f"u{i}", display_name=f"人{i}", role="enterprise", organisation_id=mine.id,
                       password_hash="x") for i in range(20)]
        s.add_all(people)
        s.flush()
        rows = []
        for i in range(notices):
            at = NOW - timedelta(minutes=notices - i)
            base = {"kind": "overdue", "subject": f"隐患整改已逾期：YH{i}", "body": "b", "created_at": at,
                    "status": "sent", "attempts": 0, "channel": "in_app", "event_key": f"e{i}"}
            rows.append({**base, "idempotency_key": f"e{i}:{mine.id}:in_app", "recipient_org_id": mine.id})
            rows.append({**base, "idempotency_key": f"e{i}:{other.id}:in_app", "recipient_org_id": other.id})
            if i % 2 == 0:
                person = people[i % 20]
                rows.append({**base, "idempotency_key": f"e{i}:u{person.id}:in_app", "recipient_org_id": mine.id,
                             "recipient_user_id": person.id})
        s.execute(insert(Notice), rows)
        return people[0]


def median_ms(work) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(50):
        started = time.perf_counter()
        work()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notices", type=int, default=20_000)
    parser.add_argument("--database")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    person = seed(factory, args.notices)
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk insert; without statistics the
        with engine.begin() as connection:   # planner takes 40,000 rows for one and sorts instead of using an index
            connection.execute(text("ANALYZE notices"))
    with transaction(factory) as s:
        user = s.get(User, person.id)
        assert user is not None
        print(f"unread_count: {median_ms(lambda: unread_count(s, user)):.2f} ms (={unread_count(s, user)})")
        print(f"inbox_notices (50): {median_ms(lambda: inbox_notices(s, user)):.2f} ms")


if __name__ == "__main__":
    main()
