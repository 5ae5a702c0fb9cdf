"""Administrative penalties (行政处罚) decided on an inspection's findings.

One decision names a case number, the legal basis, who decided and when, and penalises the unit,
its principal, or both: both is 一案双罚 (plan: "严格落实'一案双罚'"; 安全生产法 第九十四、九十五条),
two records of one case linked each way. Only the inspecting department records its penalties.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Hazard, Inspection, Organisation, Penalty, User
from . import audit
from .errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

KINDS = {"warning": "警告", "fine": "罚款", "suspension": "停产停业整顿", "closure_recommendation": "提请关闭",
         "judicial_transfer": "移送司法机关"}
TARGETS = {"unit": "单位", "principal": "主要负责人"}
MAX_AMOUNT = Decimal("100000000")
"""A fine above a hundred million yuan is a typing error, not a decision."""


@dataclass(frozen=True)
class Sanction:
    """What one target receives: the kind, and the amount (yuan) for a fine."""

    kind: str
    amount: str | None = None


@dataclass(frozen=True)
class Decision:
    """One penalty decision: the case, and the unit's and/or the principal's sanction (both: 一案双罚)."""

    case_number: str
    legal_basis: str
    decided_by: str
    decided_on: date
    unit: Sanction | None = None
    principal: Sanction | None = None
    principal_name: str = ""
    hazard_id: int | None = None


def record_penalties(session: Session, actor: User, inspection_id: int, decision: Decision,
                     now: datetime) -> list[Penalty]:
    """Record a decision on an inspection of the actor's department (one transaction; both records or none)."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFoundError(f"inspection {inspection_id} not found")
    if actor.role != "department" or actor.organisation_id != inspection.department_id:
        raise PermissionDeniedError("只有实施检查的部门可以记录其行政处罚")
    enterprise = session.get(Organisation, inspection.enterprise_id)
    assert enterprise is not None
    case_number = _text(decision.case_number, "案号", 60)
    basis, decided_by = _text(decision.legal_basis, "处罚依据", 300), _text(decision.decided_by, "决定机关（人）", 100)
    targets = [(target, sanction, name) for target, sanction, name in (
        ("unit", decision.unit, enterprise.name),
        ("principal", decision.principal, _text(decision.principal_name, "主要负责人姓名", 100)
         if decision.principal else ""),
    ) if sanction is not None]
    if not targets:
        raise InvalidInputError("请至少对单位或主要负责人作出一项处罚")
    hazard = _hazard(session, inspection, decision.hazard_id)
    records = []
    for target, sanction, name in targets:
        if session.scalar(select(Penalty.id).where(Penalty.department_id == inspection.department_id,
                                                   Penalty.case_number == case_number, Penalty.target == target)):
            raise ConflictError(f"案号 {case_number} 已有对{TARGETS[target]}的处罚记录")
        records.append(Penalty(inspection_id=inspection.id, enterprise_id=enterprise.id,
                               department_id=inspection.department_id, hazard_id=hazard.id if hazard else None,
                               case_number=case_number, legal_basis=basis, kind=_kind(sanction.kind),
                               amount=_amount(sanction), target=target, target_name=name, decided_by=decided_by,
                               decided_on=decision.decided_on, recorded_by_id=actor.id, recorded_at=now))
    session.add_all(records)
    session.flush()
    if len(records) == 2:
        records[0].linked_penalty_id, records[1].linked_penalty_id = records[1].id, records[0].id
        if hazard is not None:
            hazard.penalty = "double_penalty"
    audit.record(session, actor, "record_penalty", "inspection", inspection.id,
                 {"case_number": case_number, "penalties": [
                     {"id": p.id, "target": p.target, "kind": p.kind, "amount": str(p.amount) if p.amount else None}
                     for p in records], "hazard": hazard.id if hazard else None}, now)
    return records


def _text(value: str, label: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise InvalidInputError(f"{label}必填，且不超过 {limit} 个字")
    return value


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInputError("处罚种类无效")
    return kind


def _amount(sanction: Sanction) -> Decimal | None:
    """A fine's positive amount in yuan (at most two decimals); any other kind has none."""
    given = (sanction.amount or "").strip()
    if sanction.kind != "fine":
        if given:
            raise InvalidInputError(f"{KINDS.get(sanction.kind, sanction.kind)}不填写罚款金额")
        return None
    try:
        amount = Decimal(given)
    except InvalidOperation:
        raise InvalidInputError("罚款须填写金额（元）") from None
    if not amount.is_finite() or not 0 < amount <= MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInputError(f"罚款金额须大于 0、不超过 {MAX_AMOUNT} 元，至多两位小数")
    return amount.quantize(Decimal("0.01"))


def _hazard(session: Session, inspection: Inspection, hazard_id: int | None) -> Hazard | None:
    """The hazard the decision concerns: one of the inspected enterprise, not recorded as not penalised."""
    if hazard_id is None:
        return None
    hazard = session.get(Hazard, hazard_id)
    if hazard is None or hazard.enterprise_id != inspection.enterprise_id:
        raise InvalidInputError(f"隐患 {hazard_id} 不属于被检查企业")
    if hazard.penalty == "not_penalised":
        raise InvalidInputError(f"隐患 {hazard.code} 为企业自报并正在整改的重大事故隐患，不予处罚")
    return hazard


def for_inspection(session: Session, inspection_id: int) -> list[Penalty]:
    """The penalties recorded on an inspection, by case number (the caller checked who may see it)."""
    return list(session.scalars(select(Penalty).where(Penalty.inspection_id == inspection_id)
                                .order_by(Penalty.case_number, Penalty.target.desc(), Penalty.id)))


def for_hazard(session: Session, hazard_id: int) -> list[Penalty]:
    """The penalties concerning a hazard (the caller checked who may see it)."""
    return list(session.scalars(select(Penalty).where(Penalty.hazard_id == hazard_id)
                                .order_by(Penalty.decided_on, Penalty.id)))
