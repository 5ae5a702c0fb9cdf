"""What a reviewer decides on: the plan, what was done, the photos before and after.

The task pages of the review steps always show these (a department never approves a plan or closes
a hazard from a page that hides them), read from the hazard's record and the history of its loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..store.models import Evidence, Hazard
from . import audit, evidence
from .documents import VERIFY_STEPS

PLAN_REVIEW_STEPS = ("Task_ReviewPlan",)
EXTENSION_REVIEW_STEPS = ("Task_ReviewExtension", "Task_ReviewExtensionEnterprise")
OUTCOME_REVIEW_STEPS = VERIFY_STEPS + EXTENSION_REVIEW_STEPS
RECTIFY_STEPS = ("Task_Rectify", "Task_RectifyImmediately")
BEFORE_STAGE = "photos_before"


@dataclass(frozen=True)
class ReviewFacts:
    """The sections a review step's page shows: `submission` is the last rectification form (result, date,
    cost, overdue explanation, or the extension asked and why), None on a plan review or before any."""

    step: str
    shows_outcome: bool
    before: list[Evidence] = field(default_factory=list)
    after: list[Evidence] = field(default_factory=list)
    submission: dict[str, Any] | None = None


def is_review_step(bpmn_id: str) -> bool:
    """Whether a step of the hazard loop decides on a plan or on what was done."""
    return bpmn_id in PLAN_REVIEW_STEPS + OUTCOME_REVIEW_STEPS


def review_facts(session: Session, hazard: Hazard, bpmn_id: str) -> ReviewFacts | None:
    """What the reviewer of step `bpmn_id` sees (None for steps that decide on nothing), for a hazard the
    caller has checked the actor may see."""
    if not is_review_step(bpmn_id):
        return None
    photos = evidence.for_hazard(session, hazard.id)
    before = [p for p in photos if p.stage == BEFORE_STAGE]
    after = [p for p in photos if p.stage != BEFORE_STAGE]
    if bpmn_id in PLAN_REVIEW_STEPS:
        return ReviewFacts(bpmn_id, False, before)
    return ReviewFacts(bpmn_id, True, before, after, last_submission(session, hazard.id, RECTIFY_STEPS))


def last_submission(session: Session, hazard_id: int, steps: tuple[str, ...],
                    as_of: datetime | None = None) -> dict[str, Any] | None:
    """The form data of the hazard's most recent completion of one of `steps` (by `as_of` if given), with its
    time under `_at`: what its history says was submitted."""
    for entry in reversed(audit.history(session, "hazard", hazard_id)):
        detail = entry.detail or {}
        if entry.action == "complete_task" and detail.get("task") in steps and (as_of is None or entry.at <= as_of):
            return {**(detail.get("data") or {}), "_at": entry.at}
    return None
