"""Enforcement records (issue #19): who may inspect, liaison teams per department and year, yearly
双随机 plans reproducible from their seed, penalties with 一案双罚 as two linked records."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import T0, Zone, _org, _user
from helpers import PLAN, REPORT, complete, report
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.services import inspection_plans, inspections
from workflow_app.services.enforcement import record_inspection
from workflow_app.services.enterprise_file import enterprise_file
from workflow_app.services.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from workflow_app.services.penalties import Decision, Sanction, record_penalties
from workflow_app.store.database import transaction
from workflow_app.store.models import (
    AuditEntry,
    Hazard,
    Inspection,
    InspectionPlan,
    LiaisonAssignment,
    Organisation,
    Penalty,
    Supervision,
    User,
)

ON = T0.date()
FOUND = {**REPORT, "hazard_level": "major", "title": "有限空间作业未审批", "found_on": ON.isoformat()}
CASE = Decision(case_number="应急罚〔2026〕12号", legal_basis="《安全生产法》第一百零一条", decided_by="应急管理分局",
                decided_on=ON, unit=Sanction("fine", "50000"), principal=Sanction("fine", "8000"),
                principal_name="张三")


@pytest.fixture
def shared(factory: sessionmaker[Session], zone: Zone) -> Zone:
    """E1 supervised also by the other department (D2, not the lead): 三管三必须."""
    with transaction(factory) as s:
        s.add(Supervision(enterprise_id=zone.enterprise_id, department_id=zone.other_department.organisation_id,
                          is_lead=False))
    return zone


def _inspect(factory, actor: User, team: str, on: date = ON, found=(), enterprise_id: int | None = None,
             **extra) -> int:
    with transaction(factory) as s:
        return record_inspection(s, actor, enterprise_id or _e1(s), team, on, "检查有限空间", list(found), [], T0,
                                 **extra).inspection_id


def _e1(session: Session) -> int:
    return session.scalar(select(Organisation.id).where(Organisation.code == "E1"))


def _written(factory) -> tuple[int, ...]:
    """Counts a refused action must leave unchanged."""
    with transaction(factory) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in
                     (Inspection, LiaisonAssignment, Hazard, Penalty, AuditEntry, InspectionPlan))


def test_only_a_supervising_department_records_an_inspection(factory, shared):
    """Plan 三(三) 部门精准执法: inspections are the supervising departments' (lead or not, 三管三必须);
    an enterprise, a town, the office or a department that does not supervise it cannot record one."""
    with transaction(factory) as s:
        stranger = _user(s, "dept3", "department", _org(s, "D3", "department"))
    before = _written(factory)
    for actor in (stranger, shared.principal, shared.town, shared.office):
        with pytest.raises(PermissionDeniedError), transaction(factory) as s:
            record_inspection(s, actor, shared.enterprise_id, "组", ON, "检查", [FOUND], [], T0)
    assert _written(factory) == before
    assert _inspect(factory, shared.other_department, "消防包联组")  # the non-lead supervisor may


def test_each_supervising_department_keeps_its_own_liaison_team_for_the_year(factory, shared):
    """Plan 三(三): "针对同一家企业的所有执法检查均由同一个执法工作组承担" — per department and year: its first
    inspection of the year assigns its team, another team of that department is refused with a clear message,
    another supervising department has its own team, and a new year may have a new team."""
    _inspect(factory, shared.department, "应急一组")
    _inspect(factory, shared.other_department, "消防二组")  # another department: its own team
    before = _written(factory)
    with pytest.raises(InvalidInputError, match=r"应急一组.*不能由“应急三组”检查"):
        _inspect(factory, shared.department, "应急三组", ON + timedelta(days=7), found=[FOUND])
    assert _written(factory) == before  # nothing of the refused inspection, not even its hazard
    _inspect(factory, shared.department, "应急一组", ON + timedelta(days=7))
    _inspect(factory, shared.department, "应急三组", date(2027, 3, 1))
    with transaction(factory) as s:
        teams = sorted(tuple(row) for row in s.execute(select(
            LiaisonAssignment.year, LiaisonAssignment.department_id, LiaisonAssignment.team)))
    assert teams == sorted([(2026, shared.department.organisation_id, "应急一组"),
                            (2026, shared.other_department.organisation_id, "消防二组"),
                            (2027, shared.department.organisation_id, "应急三组")])
    with transaction(factory) as s:  # the enterprise's file (一企一档) shows each department's team of the year
        shown = enterprise_file(s, shared.office, shared.enterprise_id, ON).liaison
        assert sorted((team.team, team.department_id) for team, _ in shown) == sorted(
            [("应急一组", shared.department.organisation_id), ("消防二组", shared.other_department.organisation_id)])


def test_inspections_are_listed_by_role(factory, shared):
    """A department sees its own inspections, the office all, a town its territory's, an enterprise its own."""
    mine = _inspect(factory, shared.department, "应急一组")
    theirs = _inspect(factory, shared.other_department, "消防二组")
    with transaction(factory) as s:
        seen = {u.username: [r.inspection.id for r in inspections.list_inspections(s, u)]
                for u in (shared.department, shared.other_department, shared.office, shared.town, shared.principal,
                          shared.outsider)}
        with pytest.raises(NotFoundError):
            inspections.get_inspection(s, shared.outsider, mine)
        with pytest.raises(NotFoundError):
            inspections.get_inspection(s, shared.other_department, mine)
    assert seen == {"dept": [mine], "dept2": [theirs], "office": [theirs, mine], "town": [theirs, mine],
                    "boss": [theirs, mine], "outsider": []}


def _plan_zone(factory, zone: Zone) -> None:
    """Eight more enterprises for D1 (one closed) and three more inspectors (one inactive)."""
    with transaction(factory) as s:
        for n in range(8):
            _org(s, f"EP{n}", "enterprise", sector_code="industry", status="closed" if n == 7 else "active")
        dept = s.get(Organisation, zone.department.organisation_id)
        for n in range(3):
            _user(s, f"officer{n}", "department", dept).active = n != 2


def test_a_yearly_plan_is_drawn_from_recorded_pools_and_redrawn_identically_from_its_seed(factory, zone):
    """Plan 三(三) "双随机一公开": enterprises drawn at random from those the department supervises, inspectors
    from its staff; the seed and both pools are recorded so the draw is redone and shown identical."""
    _plan_zone(factory, zone)
    with transaction(factory) as s:
        plan = inspection_plans.draw_plan(s, zone.department, 2026, 4, 2, T0, seed=20260501)
        plan_id, pool, inspectors = plan.id, list(plan.enterprise_pool), list(plan.inspector_pool)
    with transaction(factory) as s:
        active = sorted(s.scalars(select(Organisation.id).where(Organisation.code.in_(
            ["E1", *[f"EP{n}" for n in range(7)]]))))
        staff = sorted(s.scalars(select(User.id).where(User.username.in_(["dept", "officer0", "officer1"]))))
        plan, entries = inspection_plans.get_plan(s, zone.department, plan_id)
        drawn = inspection_plans.draw_from(pool, inspectors, 4, 2, 20260501)
        assert (pool, inspectors) == (active, staff)  # closed enterprises and inactive users are not drawn
        assert sorted(e.entry.enterprise_id for e in entries) == drawn.enterprises and len(entries) == 4
        assert all(len(e.entry.inspectors) == 2 and set(e.entry.inspectors) <= set(staff) for e in entries)
        assert inspection_plans.redraw_matches(plan, [e.entry for e in entries])
        entries[0].entry.inspectors = [staff[0], staff[0]]  # a tampered entry (never drawn so) no longer matches
        assert not inspection_plans.redraw_matches(plan, [e.entry for e in entries])
        s.rollback()
    with pytest.raises(ConflictError), transaction(factory) as s:  # one plan per department and year
        inspection_plans.draw_plan(s, zone.department, 2026, 2, 1, T0)
    with pytest.raises(PermissionDeniedError), transaction(factory) as s:
        inspection_plans.get_plan(s, zone.town, plan_id)


def test_an_inspection_fulfils_its_plan_entry(factory, zone):
    """A drawn enterprise inspected that year by that department is marked inspected (before or after the draw)."""
    _plan_zone(factory, zone)
    early = _inspect(factory, zone.department, "应急一组")  # E1 inspected before the plan is drawn
    with transaction(factory) as s:
        plan_id = inspection_plans.draw_plan(s, zone.department, 2026, 8, 1, T0).id  # every active enterprise
    with transaction(factory) as s:
        ep0 = s.scalar(select(Organisation.id).where(Organisation.code == "EP0"))
    later = _inspect(factory, zone.department, "应急二组", enterprise_id=ep0)
    with transaction(factory) as s:
        _, entries = inspection_plans.get_plan(s, zone.office, plan_id)
        done = {e.entry.enterprise_id: e.entry.inspection_id for e in entries if e.entry.inspection_id}
    assert done == {zone.enterprise_id: early, ep0: later}


def test_double_penalty_is_two_linked_records_and_keeps_the_hazard_flag(factory, zone):
    """Plan 二(三) and 安全生产法 第九十四、九十五条: 一案双罚 penalises the unit and its principal — one decision,
    two records of the same case number, each linked to the other; the hazard stays flagged double_penalty."""
    with transaction(factory) as s:
        result = record_inspection(s, zone.department, zone.enterprise_id, "应急一组", ON, "检查", [FOUND], [], T0)
    [hazard_id] = result.new_hazard_ids
    with transaction(factory) as s:
        unit, principal = record_penalties(s, zone.department, result.inspection_id,
                                           Decision(**{**CASE.__dict__, "hazard_id": hazard_id}), T0)
        ids = unit.id, principal.id
    with transaction(factory) as s:
        unit, principal = (s.get(Penalty, i) for i in ids)
        assert (unit.target, unit.target_name, str(unit.amount)) == ("unit", "E1单位", "50000.00")
        assert (principal.target, principal.target_name, str(principal.amount)) == ("principal", "张三", "8000.00")
        assert unit.case_number == principal.case_number == CASE.case_number
        assert (unit.linked_penalty_id, principal.linked_penalty_id) == (principal.id, unit.id)
        assert s.get(Hazard, hazard_id).penalty == "double_penalty"
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.object_type == "inspection")
                        .order_by(AuditEntry.id.desc()).limit(1)) == "record_penalty"
        shown = inspections.get_inspection(s, zone.principal, result.inspection_id)  # the enterprise reads them
        assert [p.id for p in shown.penalties] == list(ids)


@pytest.mark.parametrize(("change", "error"), [
    ({"unit": Sanction("fine", "")}, "金额"),
    ({"unit": Sanction("fine", "-5")}, "大于 0"),
    ({"unit": Sanction("fine", "0")}, "大于 0"),
    ({"unit": Sanction("warning", "100")}, "不填写罚款金额"),
    ({"unit": Sanction("suspension", "NaN")}, "不填写罚款金额"),
    ({"unit": Sanction("fine", "1.005")}, "两位小数"),
    ({"unit": Sanction("confiscation")}, "处罚种类无效"),
    ({"unit": None, "principal": None}, "至少"),
    ({"principal_name": " "}, "主要负责人姓名"),
    ({"case_number": ""}, "案号"),
])
def test_an_invalid_penalty_is_refused_and_writes_nothing(factory, zone, change, error):
    """A fine needs a positive amount in yuan, any other kind none (行政处罚法 第九条 kinds)."""
    inspection_id = _inspect(factory, zone.department, "应急一组")
    before = _written(factory)
    with pytest.raises(InvalidInputError, match=error), transaction(factory) as s:
        record_penalties(s, zone.department, inspection_id, Decision(**{**CASE.__dict__, **change}), T0)
    assert _written(factory) == before


def test_a_case_number_is_unique_per_department_and_target_and_only_the_inspector_decides(factory, shared):
    """Only the inspecting department records its penalties; its case numbers are unique per target."""
    inspection_id = _inspect(factory, shared.department, "应急一组")
    other_inspection = _inspect(factory, shared.other_department, "消防二组")
    with transaction(factory) as s:
        record_penalties(s, shared.department, inspection_id, Decision(**{**CASE.__dict__, "principal": None}), T0)
    before = _written(factory)
    with pytest.raises(ConflictError, match="单位"), transaction(factory) as s:  # the unit's half already exists
        record_penalties(s, shared.department, inspection_id, CASE, T0)
    for actor in (shared.other_department, shared.principal, shared.office):
        with pytest.raises(PermissionDeniedError), transaction(factory) as s:
            record_penalties(s, actor, inspection_id, CASE, T0)
    assert _written(factory) == before
    with transaction(factory) as s:  # the same number in another department's register is its own case
        record_penalties(s, shared.other_department, other_inspection, CASE, T0)


def test_a_self_reported_major_hazard_acknowledged_is_not_penalised(factory, zone):
    """Plan 二(三): a major hazard the enterprise reported itself and is rectifying is not penalised: a penalty
    naming it is refused."""
    own = report(factory, zone.principal, zone.enterprise_id, T0, found_on=ON.isoformat())
    complete(factory, zone.principal, own, PLAN, T0)
    complete(factory, zone.department, own, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    with transaction(factory) as s:
        inspection_id = record_inspection(s, zone.department, zone.enterprise_id, "应急一组", ON, "检查", [], [own],
                                          T0).inspection_id
    with pytest.raises(InvalidInputError, match="不予处罚"), transaction(factory) as s:
        record_penalties(s, zone.department, inspection_id, Decision(**{**CASE.__dict__, "hazard_id": own}), T0)
    with transaction(factory) as s:
        assert [h.id for h in inspections.get_inspection(s, zone.office, inspection_id).acknowledged] == [own]
