"""The hazard tallies behind the overseers' KPI tiles (issue #20's speed): kept by triggers in the transaction of
every hazard change, they give the same figures as counting the hazards themselves, through a whole closed loop,
a rejected report, a listing, a correction written in plain SQL, a rolled-back change and a migration's backfill."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from conftest import Zone
from helpers import PLAN, complete, report
from sqlalchemy import Engine, and_, case, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.engine.calendar import SHANGHAI
from workflow_app.engine.errors import FormValidationError
from workflow_app.services.errors import PermissionDeniedError
from workflow_app.services.home import Kpi, kpis
from workflow_app.services.roles import visible_hazards
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.migrate import alembic_config, migration_connection, upgrade_to_head
from workflow_app.store.models import Hazard, HazardTally, InboxTask, User

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
ANSWERS = {  # what each step of bpmn/hazard_lifecycle.bpmn is answered with, and by whom
    "Task_Triage": ("office", {"triage_decision": "accept", "hazard_level": "general", "triage_opinion": "属实"}),
    "Task_ChooseRectification": ("principal", {"rectification_mode": "planned"}),
    "Task_PlanRectification": ("principal", PLAN),
    "Task_ReviewPlan": ("department", {"review_decision": "approve", "review_opinion": "同意"}),
    "Task_Rectify": ("safety_officer", {"rectify_action": "done", "rectification_result": "已更换",
                                        "rectified_on": "2026-11-11"}),  # before the plan's deadline
    "Task_EnterpriseVerify": ("principal", {"verification_result": "passed", "verification_opinion": "合格"}),
    "Task_DepartmentVerify": ("department", {"verification_result": "passed", "verification_opinion": "复查合格"}),
    "Task_RewardDecision": ("office", {"reward_decision": "no_award", "reward_reason": "—"}),
}


def _direct(session: Session, user: User, today: date, tile: Kpi) -> tuple[int, int, int, int]:
    """The tile's figures counted from the hazards one by one (what the tiles showed before the tallies)."""
    live = Hazard.status.not_in(("closed", "rejected"))
    query = visible_hazards(select(
        func.count(), func.count().filter(Hazard.status == "closed"),
        func.count().filter(and_((Hazard.rectification_deadline < today) | Hazard.overdue_since.is_not(None), live)),
        func.count().filter(Hazard.supervision_listed.is_(True))).select_from(Hazard), user)
    if tile.start is not None:
        query = query.where(Hazard.found_on >= tile.start)
    if tile.end is not None:
        query = query.where(Hazard.found_on <= tile.end)
    return tuple(int(v or 0) for v in session.execute(query).one())  # type: ignore[return-value]


def _rebuilt(session: Session) -> set[tuple]:
    """The tallies as counting every hazard now would make them."""
    state = case((Hazard.status == "closed", "closed"), (Hazard.status == "rejected", "rejected"),
                 (Hazard.overdue_since.is_not(None), "overdue"), else_="open")
    return {tuple(row) for row in session.execute(
        select(Hazard.enterprise_id, Hazard.found_on, state, Hazard.supervision_listed, func.count())
        .group_by(Hazard.enterprise_id, Hazard.found_on, state, Hazard.supervision_listed))}


def _tallies(session: Session) -> set[tuple]:
    return {tuple(row) for row in session.execute(select(
        HazardTally.enterprise_id, HazardTally.found_on, HazardTally.state, HazardTally.listed, HazardTally.hazards)
        .where(HazardTally.hazards != 0))}


def _agree(factory: sessionmaker[Session], zone: Zone, now: datetime) -> list[tuple[int, ...]]:
    """Every overseer's tiles (this week, all time) equal the direct count, and the tallies a rebuild."""
    today = now.astimezone(SHANGHAI).date()
    figures = []
    with transaction(factory) as s:
        assert _tallies(s) == _rebuilt(s)
        for user in (zone.office, zone.department, zone.other_department, zone.town):
            for tile in kpis(s, user, today):
                mine = (tile.found, tile.rectified, tile.overdue, tile.listed)
                assert mine == _direct(s, user, today, tile), (user.username, tile.label, today)
                figures.append(mine)
    return figures


def _run_loop(factory: sessionmaker[Session], zone: Zone, hazard_id: int, now: datetime) -> list[str]:
    """Answer every open step of the hazard until none is left, checking the tiles after each one."""
    steps = []
    for _ in range(12):
        with transaction(factory) as s:
            task = s.scalars(select(InboxTask).where(InboxTask.hazard_id == hazard_id,
                                                     InboxTask.completed_at.is_(None))).first()
        if task is None:
            return steps
        role, data = ANSWERS[task.bpmn_id]
        try:
            complete(factory, getattr(zone, role), hazard_id, data, now)
        except FormValidationError as invalid:  # past its deadline: the rectifier explains why
            assert [error.field_id for error in invalid.errors] == ["overdue_explanation"]
            complete(factory, getattr(zone, role), hazard_id, {**data, "overdue_explanation": "备件晚到"}, now)
        steps.append(task.bpmn_id)
        _agree(factory, zone, now)
    raise AssertionError(f"the loop did not end: {steps}")


def test_tiles_equal_a_direct_count_through_a_whole_loop_a_rejection_a_listing_and_plain_sql(
        factory: sessionmaker[Session], zone: Zone) -> None:
    """A major hazard goes overdue (the timer marks it), is planned late, reviewed, rectified, verified and closed;
    a report is accepted and closed, another rejected; one is listed (挂牌督办), one corrected by plain SQL (its
    finding date and enterprise): after every step each overseer's tiles equal a count of the hazards."""
    major = report(factory, zone.principal, zone.enterprise_id, T0, found_on="2026-11-02")
    general = report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general", found_on="2026-11-01")
    accepted = report(factory, None, zone.other_enterprise_id, T0, source="public_report", hazard_level="general")
    rejected = report(factory, None, zone.enterprise_id, T0, source="whistleblower", hazard_level="general")
    assert _agree(factory, zone, T0)[:2] == [(1, 0, 0, 0), (4, 0, 0, 0)]  # office: this week, all time

    late = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
    assert sweep(factory, late)  # the plan is overdue: the timer marks the hazard
    with transaction(factory) as s:
        assert s.get(Hazard, major).overdue_since is not None  # type: ignore[union-attr]
    assert _agree(factory, zone, late)[:2] == [(0, 0, 0, 0), (4, 0, 1, 0)]

    complete(factory, zone.office, rejected, {"triage_decision": "not_hazard", "hazard_level": "general",
                                             "triage_opinion": "不属实"}, late)
    with transaction(factory) as s:  # listed by the office (an ORM change) ...
        listed = s.get(Hazard, general)
        assert listed is not None
        listed.supervision_listed = True
    with transaction(factory) as s:  # ... and a correction made in plain SQL
        s.execute(update(Hazard).where(Hazard.id == accepted).values(found_on=date(2026, 11, 11),
                                                                     enterprise_id=zone.enterprise_id))
    _agree(factory, zone, late)
    for hazard_id in (major, general, accepted):
        _run_loop(factory, zone, hazard_id, late + timedelta(days=1))
    closing = late + timedelta(days=1)
    with transaction(factory) as s:
        assert {s.get(Hazard, h).status for h in (major, general, accepted)} == {"closed"}  # type: ignore[union-attr]
    assert _agree(factory, zone, closing)[:2] == [(1, 1, 0, 0), (4, 3, 0, 1)]


def test_a_change_rolled_back_midway_leaves_the_tallies_as_they_were(factory: sessionmaker[Session],
                                                                     zone: Zone) -> None:
    """A transaction that closed, listed and moved a hazard and then failed (a crash before commit) changes no
    tally: the triggers wrote inside it, and its rollback took their writes back too."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    with transaction(factory) as s:
        before = _tallies(s)
    with pytest.raises(RuntimeError), transaction(factory) as s:
        hazard = s.get(Hazard, hazard_id)
        assert hazard is not None
        hazard.status, hazard.supervision_listed = "closed", True
        s.flush()
        s.execute(update(Hazard).where(Hazard.id == hazard_id).values(found_on=date(2026, 10, 1)))
        assert _tallies(s) == _rebuilt(s) != before  # written in the same transaction ...
        raise RuntimeError("the process died here")
    with transaction(factory) as s:
        assert _tallies(s) == _rebuilt(s) == before  # ... and gone with it
    _agree(factory, zone, T0)


def test_an_enterprise_has_no_tiles_as_the_tallies_know_no_source(factory: sessionmaker[Session],
                                                                  zone: Zone) -> None:
    """The tallies do not tell a public report from the enterprise's own finding: an enterprise, which must not
    learn of reports, is refused the tiles rather than counted from them."""
    with transaction(factory) as s, pytest.raises(PermissionDeniedError):
        kpis(s, zone.principal, T0.date())


def test_the_migration_backfills_the_tallies_and_its_triggers_follow_new_hazards(
        engine: Engine, factory: sessionmaker[Session], zone: Zone) -> None:
    """Hazards reported before 0033 are tallied by its upgrade; the triggers it creates count the next one."""
    report(factory, zone.principal, zone.enterprise_id, T0)
    report(factory, None, zone.enterprise_id, T0, source="public_report", hazard_level="general")
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0032")
    with engine.connect() as connection:
        assert "hazard_tallies" not in {name for (name,) in connection.execute(text(
            "SELECT table_name FROM information_schema.tables" if engine.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'table'"))}
    report(factory, zone.principal, zone.enterprise_id, T0, found_on="2026-10-31")  # while no trigger counts
    upgrade_to_head(engine)
    report(factory, zone.principal, zone.enterprise_id, T0, found_on="2026-10-30")
    with transaction(factory) as s:
        assert sum(row[-1] for row in _tallies(s)) == 4
    _agree(factory, zone, T0)
