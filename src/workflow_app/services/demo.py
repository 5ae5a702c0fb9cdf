"""Demo data: a fictional development zone with towns, departments, about twenty
enterprises over the plan's focus sectors, users for every role, and hazards at every
stage of the loop, some of them overdue. All names, phones and addresses are invented."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from PIL import Image
from sqlalchemy import and_, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from ..config import PROJECT_ROOT
from ..engine.calendar import SHANGHAI
from ..store.database import transaction
from ..store.models import (
    Checklist,
    Hazard,
    InboxTask,
    Organisation,
    ProcessInstanceRow,
    Sector,
    Supervision,
    User,
)
from . import roster, standards, supervision_listings, tasks
from .cases import start_case
from .evidence import EvidenceStore, Photo, Uploads, check_photo
from .hazards import report_hazard
from .model_registry import process_model
from .self_inspections import (
    AnswerInput,
    checklist_items,
    create_checklist,
    save_answers,
    sign_walk,
    start_walk,
    submit_walk,
    visible_checklists,
)

DEMO_PASSWORD = "demo-2026"
ROSTER = PROJECT_ROOT / "roster" / "demo"
"""The demo zone's towns, departments, sectors and enterprises: a roster loaded by the import the office uses."""


@dataclass(frozen=True)
class DemoUser:
    """A demo account to print for the person who ran `demo`."""

    username: str
    display_name: str
    role: str
    organisation: str


def _add_user(session: Session, username: str, name: str, role: str, org: Organisation,
              principal: bool = False) -> None:
    session.add(User(username=username, display_name=name, role=role, organisation_id=org.id, is_principal=principal,
                     password_hash=generate_password_hash(DEMO_PASSWORD)))


def _seed_organisations(session: Session, now: datetime) -> list[Organisation]:
    """The office and its account, the roster in roster/demo/ imported by it, then an account per town and
    department and two per enterprise (its principal and its safety officer)."""
    office = Organisation(code="OFFICE", name="示范经济开发区安委会办公室", kind="office")
    session.add(office)
    session.flush()
    _add_user(session, "office", "周安平（安委办）", "office", office)
    session.flush()
    actor = session.scalar(select(User).where(User.username == "office"))
    files = [(path.name, path.read_bytes()) for path in sorted(ROSTER.glob("*.csv"))]
    roster.import_roster(session, actor, files, now)
    by_kind = {kind: list(session.scalars(select(Organisation).where(Organisation.kind == kind)
                                          .order_by(Organisation.id))) for kind in ("town", "department", "enterprise")}
    for town in by_kind["town"]:
        _add_user(session, f"town{town.code[-1]}", f"{town.name}安监员", "town", town)
    for department in by_kind["department"]:
        _add_user(session, department.code.lower().replace("d-", "dept-"), f"{department.name}监管员", "department",
                  department)
    for enterprise in by_kind["enterprise"]:
        username = enterprise.code.lower()
        _add_user(session, username, f"{enterprise.name}主要负责人", "enterprise", enterprise, principal=True)
        _add_user(session, f"{username}-safety", f"{enterprise.name}安全管理员", "enterprise", enterprise)
    return by_kind["enterprise"]


def demo_users(session: Session) -> list[DemoUser]:
    """Every account, as printed after `demo`."""
    rows = session.scalars(select(User).order_by(User.id))
    return [DemoUser(u.username, u.display_name, u.role, u.organisation.name) for u in rows]


STAGES = ["triage", "plan", "review", "rectifying", "overdue", "verifying", "closed", "rejected"]


def _plan(deadline: datetime) -> dict[str, Any]:
    return {"responsible_person": "王责任", "rectification_measures": "更换老化部件，完善操作规程并组织培训",
            "rectification_funds": "3.5", "rectification_deadline": deadline.date().isoformat(),
            "emergency_plan": "整改期间设置警戒区，专人值守，配备应急器材"}


def _act(session: Session, hazard_id: int, data: dict[str, Any], when: datetime, avoid: int | None = None,
         evidence: EvidenceStore | None = None) -> None:
    """Complete the hazard's open task as the first user of the acting organisation (not `avoid`).

    What the model requires beyond `data` is given as a person would: an "after" photo for
    a rectification, the verifier's own name as signature.
    """
    task = session.scalar(select(InboxTask).where(InboxTask.hazard_id == hazard_id, InboxTask.completed_at.is_(None)))
    if task is None:
        return
    users = session.scalars(select(User).where(User.organisation_id == task.organisation_id,
                                               User.role == task.role).order_by(User.id)).all()
    actor = next(u for u in users if u.id != avoid)
    _, form = tasks.task_form(session, actor, task.task_id, when.astimezone(SHANGHAI).date())
    model = process_model(session.get(ProcessInstanceRow, task.instance_id).model_version)  # type: ignore[union-attr]
    signature = model.task_properties(task.bpmn_id).get("signature_field")
    if signature:
        data = {**data, signature: actor.display_name}
    needed = form.required_for(data)
    photos = {f.id: [_demo_photo()] for f in form.fields if f.type == "file" and f.id in needed}
    uploads = Uploads(evidence, photos) if photos and evidence else None
    tasks.complete_task(session, actor, task.task_id, data, when, uploads)


def _demo_photo() -> Photo:
    """A small made-up "after" photo (a green square) for the demo's rectified hazards."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (60, 150, 90)).save(buffer, "JPEG")
    return check_photo(buffer.getvalue(), "整改后.jpg")


def _advance(session: Session, hazard_id: int, stage: str, level: str, now: datetime,
             evidence: EvidenceStore) -> None:
    """Walk one hazard's loop forward to `stage`, acting as the right users."""
    act = partial(_act, session, hazard_id, evidence=evidence)
    if stage in ("triage", "rejected"):
        if stage == "rejected":
            act({"triage_decision": "duplicate", "hazard_level": level, "triage_opinion": "与已登记隐患重复"}, now)
        return
    if stage != "plan":
        _rectify_and_verify(session, hazard_id, stage, level, now, evidence)


def _rectify_and_verify(session: Session, hazard_id: int, stage: str, level: str, now: datetime,
                        evidence: EvidenceStore) -> None:
    """Plan, review, rectify and verify as far as `stage` asks."""
    act = partial(_act, session, hazard_id, evidence=evidence)

    overdue = stage == "overdue"
    deadline = now - timedelta(days=12) if overdue else now + timedelta(days=20)
    if level == "general":
        act({"rectification_mode": "planned"}, now - timedelta(days=30))
    act(_plan(deadline), now - timedelta(days=29))
    if stage == "review":
        return
    if level == "major":
        act({"review_decision": "approve", "review_opinion": "方案可行，同意实施"}, now - timedelta(days=28))
    if level == "major" and overdue:
        _list_for_supervision(session, hazard_id, now - timedelta(days=27), now + timedelta(days=10))
    if stage in ("rectifying", "overdue"):
        return
    act({"rectification_result": "已完成整改并自查", "rectified_on": (now - timedelta(days=3)).date().isoformat()},
        now - timedelta(days=3))
    if stage == "closed":
        rectifier = session.scalar(select(InboxTask.completed_by_id).where(
            InboxTask.hazard_id == hazard_id, InboxTask.bpmn_id == "Task_Rectify"))
        act({"verification_result": "passed", "verification_opinion": "现场核查，整改到位"}, now - timedelta(days=1),
            avoid=rectifier)


def _list_for_supervision(session: Session, hazard_id: int, when: datetime, deadline: datetime) -> None:
    """The overdue major hazard is proposed by its lead department and listed by the office, production stopped."""
    hazard = session.get(Hazard, hazard_id)
    assert hazard is not None
    department = session.scalars(select(User).join(Supervision, and_(
        Supervision.department_id == User.organisation_id, Supervision.is_lead.is_(True)))
        .where(Supervision.enterprise_id == hazard.enterprise_id, User.role == "department").order_by(User.id)).first()
    office = session.scalars(select(User).where(User.role == "office").order_by(User.id)).first()
    if department is None or office is None:
        return
    listing = supervision_listings.propose(session, department, hazard_id, "整改逾期且涉及储存区域，提请挂牌督办", when)
    task = session.scalars(select(InboxTask).where(InboxTask.instance_id == listing.instance_id,
                                                   InboxTask.completed_at.is_(None))).one()
    tasks.complete_task(session, office, task.task_id, {
        "listing_decision": "list", "listing_deadline": deadline.astimezone(SHANGHAI).date().isoformat(),
        "stop_production": "true", "decision_opinion": "同意挂牌督办，整改期间停产停业"}, when)


HAZARD_TITLES = ["储罐区可燃气体报警器失效", "受限空间作业未审批", "消防通道堵塞", "配电箱未接地",
                 "安全出口指示灯损坏", "吊装作业无专人监护", "粉尘清扫制度未落实", "特种作业人员无证上岗"]


def seed(factory: sessionmaker[Session], now: datetime, evidence: EvidenceStore,
         progress: Callable[[Iterator[int]], Iterator[int]] | None = None) -> bool:
    """Create the demo zone once; False (and nothing changed) when it exists already."""
    with transaction(factory) as session:
        if session.scalar(select(Organisation).where(Organisation.code == "OFFICE")) is not None:
            return False
        enterprises = _seed_organisations(session, now)
        enterprise_ids = [e.id for e in enterprises]
    rng = random.Random(2023)
    plan = [(stage, level) for stage in STAGES for level in ("general", "major")]
    steps = iter(range(len(plan)))
    for index in progress(steps) if progress else steps:
        stage, level = plan[index]
        with transaction(factory) as session:
            enterprise_id = rng.choice(enterprise_ids)
            reporter = session.scalar(select(User).where(User.organisation_id == enterprise_id))
            public = stage in ("triage", "rejected")
            found = (now - timedelta(days=31)).astimezone(SHANGHAI).date().isoformat()
            data = {"source": "public_report" if public else rng.choice(["self_inspection", "enforcement"]),
                    "hazard_level": level, "category": rng.choice(["equipment", "violation", "management"]),
                    "title": rng.choice(HAZARD_TITLES), "description": "现场检查发现，详见照片和说明。",
                    "location": rng.choice(["一号车间", "储罐区", "仓库", "办公楼"]), "found_on": found}
            reported_at = now - timedelta(days=31)
            judged = _judged_item(session, enterprise_id, index, reported_at) if level == "major" and not public else []
            reported = report_hazard(session, None if public else reporter, enterprise_id, data, reported_at,
                                     judged_item_ids=judged)
            _advance(session, reported.hazard_id, stage, level, now, evidence)
    with transaction(factory) as session:
        _seed_permits(session, enterprise_ids[0], now)
    with transaction(factory) as session:
        _seed_self_inspections(session, enterprise_ids, now, evidence)
    return True


def _judged_item(session: Session, enterprise_id: int, index: int, when: datetime) -> list[int]:
    """An item of the enterprise's sector's standard in force, varied by `index` (none if it has none)."""
    sector = session.scalar(select(Organisation.sector_code).where(Organisation.id == enterprise_id))
    items = [i.id for i in standards.applicable_items(session, sector, when.astimezone(SHANGHAI).date())
             if i.standard.kind == "standard"]
    return [items[index % len(items)]] if items else []


def _seed_self_inspections(session: Session, enterprise_ids: list[int], now: datetime,
                           evidence: EvidenceStore) -> None:
    """A checklist per sector with items (by its department); the first enterprise's walk submitted and signed
    with one hazard found, another enterprise's walk half done."""
    built = now - timedelta(days=10)  # the items in force on that day: at 2023-05-19 工贸's 2023 edition is not yet
    for sector in session.scalars(select(Sector).order_by(Sector.code)):
        items = [i.id for i in standards.applicable_items(session, sector.code, built.astimezone(SHANGHAI).date())]
        department = session.scalar(select(User).where(User.organisation_id == sector.department_id).limit(1))
        if items and department is not None:
            create_checklist(session, department, sector.code, f"{sector.name}对标对表自查清单", items, built)
    for enterprise_id, finish in zip(enterprise_ids[:5:4], (True, False), strict=True):
        principal, officer = session.scalars(select(User).where(User.organisation_id == enterprise_id)
                                             .order_by(User.id)).all()[:2]
        checklist = session.scalar(visible_checklists(select(Checklist), principal).limit(1))
        if checklist is None:
            continue
        walk = start_walk(session, officer, checklist.id, "self_inspection", now - timedelta(days=3))
        lines = checklist_items(session, checklist.id)
        answers = {line.id: AnswerInput("compliant", "已对照检查") for line in lines[1:]}
        answers[lines[0].id] = AnswerInput("found", "现场对照条款发现不符合", "一号装置区", "equipment")
        save_answers(session, officer, walk.id, walk.version, answers if finish else dict(list(answers.items())[:2]),
                     evidence, now - timedelta(days=3))
        if finish:
            submit_walk(session, officer, walk.id, walk.version, evidence, now - timedelta(days=2))
            sign_walk(session, principal, walk.id, walk.version, principal.display_name, now - timedelta(days=2))


PERMITS = [  # (operation, grade, title, how far: the bpmn ids of the tasks to complete)
    ("hot_work", "first", "储罐区管线动火补焊", ("Task_RiskAssessment", "Task_GasAnalysis")),
    ("confined_space", "none", "反应釜内部清洗", ("Task_RiskAssessment", "Task_GasAnalysis", "Task_ApproveUnit",
                                              "Task_Watcher")),
]
PERMIT_STEPS = {
    "Task_RiskAssessment": {"hazards_identified": "可燃气体、有毒气体、缺氧",
                            "safety_measures": "隔离、置换、通风，配备气体检测仪", "briefing_done": True},
    "Task_GasAnalysis": {"analyst": "化验员", "sample_point": "作业点", "oxygen_percent": 20.8,
                         "combustible_percent": 0.1, "result": "qualified"},
    "Task_ApproveUnit": {"decision": "approve", "opinion": "措施落实，同意作业"},
    "Task_Watcher": {"watcher_name": "周监护", "watcher_briefed": True},
}


def _seed_permits(session: Session, enterprise_id: int, now: datetime) -> None:
    """Two special-operation permits of the first enterprise: one awaiting approval, one at work."""
    applicant, approver = session.scalars(select(User).where(User.organisation_id == enterprise_id)
                                          .order_by(User.id)).all()[:2]
    for operation, grade, title, steps in PERMITS:
        case = start_case(session, applicant, "special_operation_permit", {
            "title": title, "operation_kind": operation, "grade": grade, "location": "二号装置区",
            "content": title, "workers": "作业班组", "planned_on": now.astimezone(SHANGHAI).date().isoformat()},
            now - timedelta(hours=2))
        for bpmn_id in steps:
            task = session.scalar(select(InboxTask).where(InboxTask.case_id == case.id,
                                                          InboxTask.completed_at.is_(None)))
            assert task is not None and task.bpmn_id == bpmn_id
            actor = approver if bpmn_id.startswith("Task_Approve") else applicant
            tasks.complete_task(session, actor, task.task_id, PERMIT_STEPS[bpmn_id], now - timedelta(hours=1))
