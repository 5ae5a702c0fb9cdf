"""The notice list and the unread badge: a person's own lines and their organisation's merged newest first, an
organisation's line hidden from whoever got the same event by name (matched by its event key, also on notices
written before the key was stored), and a badge that counts to 99 and then says 99+."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from conftest import Zone
from sqlalchemy import Engine, column, insert, select, table
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.services.notice_centre import inbox_notices, mark_all_read, unread_count
from workflow_app.services.notices import queue_event
from workflow_app.services.personal_notices import NO_SMS, queue_to_people
from workflow_app.store.database import transaction
from workflow_app.store.migrate import alembic_config, migration_connection, upgrade_to_head
from workflow_app.store.models import Notice, User

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _event(session: Session, n: int, organisation_id: int, people: list[User] | None = None) -> None:
    """Event `n`, a minute after the previous one: to the organisation, and by name to `people`."""
    at, subject = T0 + timedelta(minutes=n), f"隐患整改已逾期：YH{n:04d}"
    queue_event(session, f"timer:{n}:t", "overdue", at, {organisation_id}, subject, "正文")
    if people:
        queue_to_people(session, f"timer:{n}:t", "overdue", at, people, subject, "正文", None, NO_SMS)


def test_the_list_is_newest_first_one_line_per_event_and_never_a_colleagues_own(
        factory: sessionmaker[Session], zone: Zone) -> None:
    with transaction(factory) as s:
        boss, safety = s.get(User, zone.principal.id), s.get(User, zone.safety_officer.id)
        assert boss is not None and safety is not None
        for n in range(60):  # every third event also to boss by name, every fifth to safety (not boss's to see)
            _event(s, n, zone.enterprise_id, [boss] if n % 3 == 0 else [safety] if n % 5 == 0 else None)
        _event(s, 60, zone.other_enterprise_id)  # another enterprise's
    with transaction(factory) as s:
        boss = s.get(User, zone.principal.id)
        assert boss is not None
        shown = inbox_notices(s, boss, limit=25)
        assert [n.subject[-4:] for n in shown] == [f"{n:04d}" for n in range(59, 34, -1)]
        for notice in shown:  # boss's own line where he got the event by name, the enterprise's otherwise
            own = int(notice.subject[-4:]) % 3 == 0
            assert notice.recipient_user_id == (boss.id if own else None)
        assert unread_count(s, boss) == 60
        assert mark_all_read(s, boss, T0 + timedelta(days=1)) == 60
        assert unread_count(s, boss) == 0
    with transaction(factory) as s:
        safety = s.get(User, zone.safety_officer.id)
        assert safety is not None
        # boss read the enterprise's lines he was shown, for all of its people; those of the events he got by name
        # he never saw, so they stay unread for his colleagues, as do safety's own lines
        assert unread_count(s, safety) == len([n for n in range(60) if n % 3 == 0 or n % 5 == 0])


def test_the_badge_counts_to_99_and_then_says_99_plus(factory: sessionmaker[Session], zone: Zone,
                                                      tmp_path: Path) -> None:
    with transaction(factory) as s:
        for n in range(3):
            _event(s, n, zone.enterprise_id)
    client = make_app(factory, tmp_path, T0 + timedelta(days=1)).test_client()
    sign_in(client, "safety")
    assert 'id="unread">3<' in client.get("/inbox").get_data(as_text=True)
    with transaction(factory) as s:
        for n in range(3, 150):
            _event(s, n, zone.enterprise_id)
    assert 'id="unread">99+<' in client.get("/inbox").get_data(as_text=True)
    client.post("/notices/read", data={"csrf_token": csrf(client, "/notices")})
    assert 'id="unread"' not in client.get("/inbox").get_data(as_text=True)
    with transaction(factory) as s:
        assert s.scalar(select(Notice.id).where(Notice.read_at.is_(None))) is None  # all 150, not the 100 counted


def test_the_migration_names_the_event_of_notices_written_before_it(engine: Engine, factory: sessionmaker[Session],
                                                                    zone: Zone) -> None:
    """An organisation's line and a person's own copy written before 0035 get the same event key, so the person
    sees one line; a notice of no such shape keeps none and stays shown."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0034")
    common = {"channel": "in_app", "kind": "overdue", "subject": "隐患整改已逾期：YH0001", "body": "正文",
              "status": "sent", "attempts": 0, "created_at": T0, "recipient_org_id": zone.enterprise_id}
    columns = {"idempotency_key", "channel", "kind", "subject", "body", "status", "attempts", "created_at",
               "recipient_org_id", "recipient_user_id"}  # the notices table of 0034: no event_key yet
    before_0035 = table("notices", *(column(c.name, c.type) for c in Notice.__table__.c if c.name in columns))
    with engine.begin() as connection:
        connection.execute(insert(before_0035), [
            {**common, "idempotency_key": f"timer:7:abc:{zone.enterprise_id}:in_app", "recipient_user_id": None},
            {**common, "idempotency_key": f"timer:7:abc:u{zone.principal.id}:in_app",
             "recipient_user_id": zone.principal.id},
            {**common, "idempotency_key": "legacy", "subject": "旧通知", "recipient_user_id": None}])
    upgrade_to_head(engine)
    with transaction(factory) as s:
        keys = dict(s.execute(select(Notice.idempotency_key, Notice.event_key)).all())
        assert keys == {f"timer:7:abc:{zone.enterprise_id}:in_app": "timer:7:abc",
                        f"timer:7:abc:u{zone.principal.id}:in_app": "timer:7:abc", "legacy": None}
        boss, safety = s.get(User, zone.principal.id), s.get(User, zone.safety_officer.id)
        assert boss is not None and safety is not None
        assert sorted((n.subject, n.recipient_user_id) for n in inbox_notices(s, boss)) == [
            ("旧通知", None), ("隐患整改已逾期：YH0001", boss.id)]
        assert sorted((n.subject, n.recipient_user_id) for n in inbox_notices(s, safety)) == [
            ("旧通知", None), ("隐患整改已逾期：YH0001", None)]
