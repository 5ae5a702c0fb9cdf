"""Recurring enterprise duties (section 二 of the plan), opened period by period.

- principal-led inspection (主要负责人带队检查): monthly in high-risk enterprises, quarterly otherwise;
- special emergency plan drill (专项应急预案演练): half-yearly in high-risk enterprises, yearly otherwise;
- on-site disposal plan drill (现场处置方案演练): quarterly.
An enterprise is high-risk when any sector it works in is, or when it is flagged so itself (e.g. a
metal-smelting plant filed under 工贸). `open_due_duties` starts, for every active enterprise
(a closed or merged one has no new duties) and duty, the occurrence of the period that
contains `today` if it does not exist yet (the unique key makes a second run a no-op), each
due on the last day of its period. The scheduler runs it with the sweep.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..engine import ProcessInstance
from ..engine.calendar import SHANGHAI
from ..store.models import Duty, EnterpriseSector, Organisation, ProcessInstanceRow, Sector
from .duty_subject import DutySubject
from .instances import apply_step
from .model_registry import latest_version, process_model

DUTY_PROCESS = "enterprise_duty"
CADENCE = {  # kind → (months per period in high-risk sectors, otherwise)
    "principal_inspection": (1, 3),
    "special_plan_drill": (6, 12),
    "onsite_plan_drill": (3, 3),
}


_HIGH_RISK = select(Organisation.id).where(Organisation.kind == "enterprise", or_(
    Organisation.high_risk.is_(True),
    Organisation.id.in_(select(EnterpriseSector.enterprise_id).join(Sector).where(Sector.high_risk.is_(True)))))
"""The high-risk enterprises: flagged, or working in a high-risk sector."""


def period_of(day: date, months: int) -> tuple[str, date]:
    """The period of `months` months containing `day`: its label and its last day."""
    index = (day.month - 1) // months
    last_month = (index + 1) * months
    end = date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])
    label = {1: f"{day.year}-{day.month:02d}", 3: f"{day.year}-Q{index + 1}", 6: f"{day.year}-H{index + 1}",
             12: f"{day.year}"}[months]
    return label, end


def open_duty_on(session: Session, enterprise: Organisation, kind: str, day: date) -> Duty | None:
    """The enterprise's open duty of `kind` for the period containing `day`, if it was opened and is not done."""
    risky, other = CADENCE[kind]
    high_risk = session.scalar(_HIGH_RISK.where(Organisation.id == enterprise.id)) is not None
    period, _ = period_of(day, risky if high_risk else other)
    return session.scalar(select(Duty).where(Duty.enterprise_id == enterprise.id, Duty.kind == kind,
                                             Duty.period == period, Duty.status == "open"))


def open_due_duties(session: Session, now: datetime) -> int:
    """Start the duty occurrences of the current periods that are not started yet; return how many."""
    today = now.astimezone(SHANGHAI).date()
    high_risk = set(session.scalars(_HIGH_RISK))
    enterprises = list(session.scalars(select(Organisation).where(Organisation.kind == "enterprise",
                                                                  Organisation.status == "active")))
    current = [period_of(today, months)[0] for months in (1, 3, 6, 12)]
    existing = {tuple(key) for key in session.execute(
        select(Duty.enterprise_id, Duty.kind, Duty.period).where(Duty.period.in_(current)))}
    version = latest_version(session, DUTY_PROCESS)
    model = process_model(version)
    started = 0
    for enterprise in enterprises:
        for kind, (risky, other) in CADENCE.items():
            period, due = period_of(today, risky if enterprise.id in high_risk else other)
            if (enterprise.id, kind, period) in existing:
                continue
            instance, result = ProcessInstance.start(model, {"duty_kind": kind, "period": period,
                                                            "due_on": due.isoformat()}, now)
            row = ProcessInstanceRow(model_version=version, state=b"", status="running", started_at=now,
                                     updated_at=now)
            session.add(row)
            session.flush()
            duty = Duty(enterprise=enterprise, kind=kind, period=period, due_on=due, instance_id=row.id,
                        status="open", created_at=now, updated_at=now)
            session.add(duty)
            session.flush()
            apply_step(session, row, instance, DutySubject(duty), result, now)
            started += 1
    return started
