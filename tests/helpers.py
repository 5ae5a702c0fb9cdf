"""Steps of the loop used by several tests."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from web_support import png

from workflow_app.services import hazards, tasks
from workflow_app.services.campaigns import CampaignConfig, start_campaign
from workflow_app.services.evidence import EvidenceStore, Uploads, check_photo
from workflow_app.services.model_registry import process_model
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Hazard, InboxTask, Notice, ProcessInstanceRow, User

REPORT = {"source": "self_inspection", "hazard_level": "major", "category": "equipment", "title": "储罐区报警器失效",
          "description": "可燃气体报警器不报警", "location": "储罐区", "found_on": "2026-11-01"}
PLAN = {"responsible_person": "王五", "rectification_measures": "更换报警器", "rectification_funds": "2.5",
        "rectification_deadline": "2026-11-20", "emergency_plan": "设置警戒区"}


def report(factory: sessionmaker[Session], actor: User | None, enterprise_id: int, now: datetime,
           **overrides: Any) -> int:
    """Report a hazard and return its id."""
    with transaction(factory) as s:
        return hazards.report_hazard(s, actor, enterprise_id, {**REPORT, **overrides}, now).hazard_id


def open_case_tasks(factory: sessionmaker[Session], case_id: int) -> list[InboxTask]:
    """A case's open tasks."""
    with transaction(factory) as s:
        return list(s.scalars(select(InboxTask).where(InboxTask.case_id == case_id, InboxTask.completed_at.is_(None))))


def open_task(factory: sessionmaker[Session], hazard_id: int) -> InboxTask:
    """The hazard's one open task."""
    with transaction(factory) as s:
        return s.scalars(select(InboxTask).where(InboxTask.hazard_id == hazard_id,
                                                 InboxTask.completed_at.is_(None))).one()


EVIDENCE = EvidenceStore(Path(tempfile.mkdtemp(prefix="test-evidence-")))
AFTER_PHOTO = check_photo(png("green"), "after.png")


def complete(factory: sessionmaker[Session], actor: User, hazard_id: int, data: dict[str, Any],
             now: datetime) -> str:
    """Complete the hazard's open task as `actor`; return the task's bpmn id.

    Evidence the model requires and `data` does not carry is added as a person would: an
    "after" photo for a rectification, the verifier's own name as signature.
    """
    task = open_task(factory, hazard_id)
    with transaction(factory) as s:
        _, form = tasks.task_form(s, actor, task.task_id, now.date())
        row = s.get(ProcessInstanceRow, task.instance_id)
        assert row is not None
        signature = process_model(row.model_version).task_properties(task.bpmn_id).get("signature_field")
        if signature and signature not in data:
            data = {**data, signature: actor.display_name}
        needed = form.required_for(data)
        photos = {f.id: [AFTER_PHOTO] for f in form.fields if f.type == "file" and f.id in needed and f.id not in data}
        tasks.complete_task(s, actor, task.task_id, data, now, Uploads(EVIDENCE, photos) if photos else None)
    return task.bpmn_id


def hazard(factory: sessionmaker[Session], hazard_id: int) -> Hazard:
    """The hazard as stored now."""
    with transaction(factory) as s:
        row = s.get(Hazard, hazard_id)
        assert row is not None
        return row


def snapshot(factory: sessionmaker[Session], hazard_id: int) -> tuple[Any, ...]:
    """Everything a failed request must leave untouched."""
    with transaction(factory) as s:
        h = s.get(Hazard, hazard_id)
        assert h is not None
        row = s.get(ProcessInstanceRow, h.instance_id)
        assert row is not None
        open_ids = sorted(s.scalars(select(InboxTask.task_id).where(InboxTask.hazard_id == hazard_id,
                                                                    InboxTask.completed_at.is_(None))))
        return (row.state, row.version, h.status, tuple(open_ids), s.scalar(select(func.count(AuditEntry.id))),
                s.scalar(select(func.count(Notice.id))))


def tamper(session: Session, sql: str, **params: Any) -> None:
    """Change the audit log behind the app's back, as the tables' owner would: on PostgreSQL the
    append-only triggers are switched off for the statement (only the owner can)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    session.execute(text(sql), params)
    if postgres:
        session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


CAMPAIGN_2026 = CampaignConfig(
    code="2026", name="重大事故隐患专项排查整治2026行动", year=2026, towns=None, departments=None, zone="测试开发区",
    dates={"mobilization_end": "2026-05-20", "self_inspection_end": "2026-07-31", "enforcement_end": "2026-10-31",
           "summary_end": "2026-12-31", "dispatch_start": "2026-05-22", "report_1_on": "2026-08-18",
           "report_2_on": "2026-12-18", "summary_on": "2026-12-28"})
"""A campaign over 2026, whose period holds the tests' hazards (reported at T0, 2026-11-02)."""


def start_campaign_2026(factory: sessionmaker[Session], started: datetime = datetime(2026, 5, 10, 1, tzinfo=UTC),
                        **changes: Any) -> int:
    """Start CAMPAIGN_2026 (with `changes` to its parameters) over every town and department; its id."""
    with transaction(factory) as s:
        return start_campaign(s, None, replace(CAMPAIGN_2026, **changes), started).id
