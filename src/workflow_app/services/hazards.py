"""Report a hazard (start its loop) and read hazards as the actor may see them."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import ProcessInstance, StepResult
from ..engine.calendar import SHANGHAI
from ..store.models import AuditEntry, Hazard, Organisation, ProcessInstanceRow, StandardItem, User
from . import audit, standards
from .errors import InvalidInputError, NotFoundError, PermissionDeniedError
from .evidence import Uploads, check_known, file_hashes
from .hazard_subject import HazardSubject
from .instances import apply_step, load_locked
from .model_registry import latest_version, process_model
from .roles import PUBLIC_SOURCES, history_shown_to, may_report_for, visible_hazards

HAZARD_PROCESS = "hazard_lifecycle"
MAX_JUDGED_ITEMS = 10
CLOSED_ENTERPRISE = "该企业已关闭或已被合并，不能再报告新的隐患"


RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: a receipt is read aloud and typed from paper."""


@dataclass(frozen=True)
class ReportedHazard:
    """What a reporter gets back: the new hazard's id, code and status (and a public reporter's receipt)."""

    hazard_id: int
    code: str
    status: str
    receipt: str | None = None


@dataclass(frozen=True)
class ReceiptStatus:
    """What a receipt shows: the report's progress, never who reported or who handles it."""

    status: str
    reported_at: datetime
    updated_at: datetime
    closed_at: datetime | None


def new_receipt() -> str:
    """12 random characters (~59 bits) shown as XXXX-XXXX-XXXX: unguessable, so it is its own key."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def receipt_status(session: Session, receipt: str) -> ReceiptStatus:
    """The status of the public report with this receipt (spacing and case ignored)."""
    raw = "".join(ch for ch in receipt.upper() if ch.isalnum())
    if len(raw) != 12:
        raise NotFoundError("no report with this receipt")
    hazard = session.scalar(select(Hazard).where(Hazard.receipt_code == f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"))
    if hazard is None:
        raise NotFoundError("no report with this receipt")
    return ReceiptStatus(hazard.status, hazard.reported_at, hazard.updated_at, hazard.closed_at)


def report_hazard(session: Session, actor: User | None, enterprise_id: int, data: dict[str, Any],
                  now: datetime, uploads: Uploads | None = None, reporter: tuple[str, str] | None = None,
                  judged_item_ids: Sequence[int] = ()) -> ReportedHazard:
    """Start the loop for a hazard of an enterprise; `actor` None is an anonymous public report.

    `data` is validated against the start form of the deployed model; nothing is
    written when it is invalid. `uploads` are photos for its file fields; `reporter` is a
    public reporter's (name, contact), kept for the office only. `judged_item_ids` are the items
    of the enterprise's sector's standards the hazard matches: such a hazard is major.
    """
    enterprise = session.get(Organisation, enterprise_id)
    if enterprise is None or enterprise.kind != "enterprise":
        raise NotFoundError("没有该企业")
    if actor is None:
        if data.get("source") not in PUBLIC_SOURCES:
            raise PermissionDeniedError("匿名上报只能是群众举报或内部吹哨人举报")
    elif not may_report_for(session, actor, enterprise):
        raise PermissionDeniedError("您无权上报该企业的隐患")
    if uploads is not None and data.get("source") in PUBLIC_SOURCES:
        uploads = uploads.anonymised()  # the reported enterprise sees these photos once the report is accepted
    items = _judged_items(session, enterprise, judged_item_ids, now)
    return start_hazard(session, actor, enterprise, data, now, uploads, reporter, items)


def start_hazard(session: Session, actor: User | None, enterprise: Organisation, data: dict[str, Any],
                 now: datetime, uploads: Uploads | None = None, reporter: tuple[str, str] | None = None,
                 items: Sequence[StandardItem] = ()) -> ReportedHazard:
    """Start the loop once the caller has checked who reports and that `items` apply to the enterprise.

    An item of a judgement standard makes the hazard major; a key inspection item only records what
    it was checked against. Nothing new is reported of a closed or merged enterprise.
    """
    if enterprise.status != "active":
        raise InvalidInputError(CLOSED_ENTERPRISE)
    if _judges_major(items):
        data = {**data, "hazard_level": "major"}
    version = latest_version(session, HAZARD_PROCESS)
    model = process_model(version)
    instance, result = ProcessInstance.start(model, uploads.merged_into(data) if uploads else data, now)
    values = instance.data
    row = ProcessInstanceRow(model_version=version, state=b"", status="running", started_at=now, updated_at=now)
    session.add(row)
    session.flush()
    hazard = Hazard(
        code="pending", instance_id=row.id, enterprise=enterprise, title=values["title"],
        description=values["description"], location=values["location"], category=values["category"],
        source=values["source"], level=values["hazard_level"], status="reported",
        found_on=date.fromisoformat(values["found_on"]), reported_at=now,
        reported_by_id=actor.id if actor else None, updated_at=now,
        reporter_name=(reporter[0] or None) if reporter else None,
        reporter_contact=(reporter[1] or None) if reporter else None,
        receipt_code=new_receipt() if actor is None else None, judged_items=list(items),
    )
    session.add(hazard)
    session.flush()
    hazard.code = f"YH{now.year}{hazard.id:06d}"
    check_known(session, hazard.id, file_hashes(values, model.start_form.file_field_ids()), uploads)
    if uploads:
        uploads.save(session, actor, hazard.id, now)
    apply_step(session, row, instance, HazardSubject(hazard), result, now, actor)
    audit.record(session, actor, "report_hazard", "hazard", hazard.id,
                 {"code": hazard.code, "enterprise": enterprise.name, "data": values}, now)
    return ReportedHazard(hazard.id, hazard.code, hazard.status, hazard.receipt_code)


def _judged_items(session: Session, enterprise: Organisation, item_ids: Sequence[int], now: datetime,
                  ) -> list[StandardItem]:
    """The items a hazard is judged against: each of the standards in force for one of the enterprise's sectors."""
    wanted = list(dict.fromkeys(item_ids))
    if not wanted:
        return []
    if len(wanted) > MAX_JUDGED_ITEMS:
        raise InvalidInputError(f"判定依据最多选择 {MAX_JUDGED_ITEMS} 条")
    applicable = {i.id: i for i in standards.enterprise_items(session, [enterprise.id],
                                                              now.astimezone(SHANGHAI).date())}
    if any(i not in applicable for i in wanted):
        raise InvalidInputError("该条款不属于本企业所在行业现行的判定标准或重点检查事项")
    return [applicable[i] for i in wanted]


def _judges_major(items: Sequence[StandardItem]) -> bool:
    """Matching any item of a judgement standard (not a key inspection item) makes a hazard major."""
    return any(item.standard.kind == "standard" for item in items)


def rejudge(session: Session, actor: User, hazard_id: int, level: str, item_ids: Sequence[int], reason: str,
            now: datetime) -> Hazard:
    """A supervisor changes a hazard's level (and the items it is judged against), with a reason; audited.

    The running instance takes the new level for the steps still to come (who reviews, who verifies).
    """
    if actor.role == "enterprise":
        raise PermissionDeniedError("只有监管单位可以重新判定隐患等级")
    hazard = get_hazard(session, actor, hazard_id)
    if level not in ("general", "major"):
        raise InvalidInputError("隐患等级应为一般隐患或重大事故隐患")
    if not reason.strip():
        raise InvalidInputError("请说明重新判定的理由")
    items = _judged_items(session, hazard.enterprise, item_ids, now)
    if _judges_major(items) and level != "major":
        raise InvalidInputError("符合判定标准条款的隐患即为重大事故隐患")
    if hazard.status in ("closed", "rejected"):
        raise InvalidInputError("已销号或不予受理的隐患不能重新判定")
    before = {"level": hazard.level, "items": [i.id for i in hazard.judged_items]}
    loaded = load_locked(session, hazard.instance_id)
    assert loaded is not None
    loaded.instance.set_data({"hazard_level": level})
    hazard.judged_items = items
    apply_step(session, loaded.row, loaded.instance, HazardSubject(hazard), StepResult(), now, actor,
               loaded.projected)
    audit.record(session, actor, "rejudge_hazard", "hazard", hazard.id,
                 {"from": before, "to": {"level": level, "items": [i.id for i in items]}, "reason": reason.strip()},
                 now)
    return hazard


def get_hazard(session: Session, actor: User, hazard_id: int) -> Hazard:
    """One hazard the actor may see; any other id is simply not found."""
    hazard = session.scalar(visible_hazards(select(Hazard), actor).where(Hazard.id == hazard_id))
    if hazard is None:
        raise NotFoundError(f"hazard {hazard_id} not found")
    return hazard


def hazard_history(session: Session, actor: User, hazard: Hazard) -> list[AuditEntry]:
    """Who did what to a hazard the actor sees, oldest first, as far as the actor may read it."""
    return history_shown_to(actor, hazard, audit.history(session, "hazard", hazard.id))


def list_hazards(session: Session, actor: User, status: str | None = None, limit: int = 100) -> list[Hazard]:
    """Hazards the actor may see, newest first."""
    query = visible_hazards(select(Hazard), actor).order_by(Hazard.id.desc()).limit(limit)
    if status:
        query = query.where(Hazard.status == status)
    return list(session.scalars(query))


def reopen_hazard(session: Session, actor: User, hazard: Hazard, reason: str, now: datetime) -> None:
    """Put a closed hazard back into the loop (a failed spot-check): a new instance of the newest model.

    The hazard keeps its record, photos and history; the finished instance stays as it was.
    It re-enters as reported: a public report goes to triage again, others to their plan.
    """
    if hazard.status != "closed":
        raise InvalidInputError(f"{hazard.code} is not closed")
    version = latest_version(session, HAZARD_PROCESS)
    data = {"source": hazard.source, "hazard_level": hazard.level, "category": hazard.category, "title": hazard.title,
            "description": hazard.description, "location": hazard.location, "found_on": hazard.found_on.isoformat()}
    instance, result = ProcessInstance.start(process_model(version), data, now)
    row = ProcessInstanceRow(model_version=version, state=b"", status="running", started_at=now, updated_at=now)
    session.add(row)
    session.flush()
    previous = hazard.instance_id
    hazard.instance_id, hazard.status, hazard.closed_at = row.id, "reported", None
    hazard.overdue_since = hazard.escalated_at = None
    apply_step(session, row, instance, HazardSubject(hazard), result, now, actor)
    audit.record(session, actor, "reopen_hazard", "hazard", hazard.id,
                 {"reason": reason, "previous_instance": previous, "status": hazard.status}, now)
