"""A task page: the form its BPMN declares, validated on the server, errors beside fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from ..engine import FormSpec, FormValidationError
from ..services import holidays, rewards, tasks
from ..services.campaigns import prefilled_values
from ..services.cases import get_case
from ..services.errors import FrozenRecordError, InvalidInputError
from ..services.hazards import get_hazard, hazard_history
from ..services.history_words import HistoryLine, read_history
from ..services.model_registry import process_model
from ..services.review_facts import ReviewFacts, review_facts
from ..services.supervision_listings import candidate_units, get_listing
from ..store.models import Campaign, Case, Duty, Hazard, InboxTask, ProcessInstanceRow, SupervisionListing
from .context import app_services, me, now, today, unit_of_work
from .forms import error_messages, keep_for_retry, staging, submitted_photos, submitted_values

bp = Blueprint("tasks", __name__)

Subject = Hazard | Campaign | Duty | Case | SupervisionListing
"""What a task can be about."""


def _subject(session: Session, task: InboxTask) -> Subject:
    """What the task is about: its hazard, case or listing (visibility checked), its campaign or the enterprise duty."""
    if task.hazard_id is not None:
        return get_hazard(session, me(), task.hazard_id)
    if task.case_id is not None:
        return get_case(session, me(), task.case_id)
    if task.campaign_id is not None:
        campaign = session.get(Campaign, task.campaign_id)
        assert campaign is not None
        return campaign
    listing_id = session.scalar(select(SupervisionListing.id).where(SupervisionListing.instance_id == task.instance_id))
    if listing_id is not None:
        return get_listing(session, me(), listing_id)
    duty = session.scalar(select(Duty).where(Duty.instance_id == task.instance_id))
    assert duty is not None
    return duty


def _properties(session: Session, task: InboxTask) -> dict[str, str]:
    """The camunda properties of the task's step, in the model version its instance runs."""
    row = session.get(ProcessInstanceRow, task.instance_id)
    assert row is not None
    return process_model(row.model_version).task_properties(task.bpmn_id)


def _reward(session: Session, subject: Subject,
            properties: dict[str, str]) -> rewards.RewardSuggestion | None:
    """The rule and suggested amount a reward decision (camunda property `reward_rule`) shows."""
    return rewards.suggestion(session, subject) if isinstance(subject, Hazard) and "reward_rule" in properties \
        else None


def _holiday_gaps(session: Session, task: InboxTask, subject: Subject) -> list[int]:
    """Years without holiday data that this task's deadlines were counted in (Monday to Friday instead)."""
    deadline = subject.rectification_deadline if isinstance(subject, Hazard) else None
    return holidays.missing_around(session, task.due_on, deadline)


def _units(session: Session, task: InboxTask, subject: Subject) -> list[tuple[int, str]]:
    """The departments the office may name when it decides a listing (shown beside the form)."""
    if isinstance(subject, SupervisionListing) and task.bpmn_id == "Task_ListingDecision":
        return candidate_units(session, subject)
    return []


@dataclass(frozen=True)
class Review:
    """What a review step's page always shows beside its form: the plan, what was done, photos, history."""

    facts: ReviewFacts
    history: list[HistoryLine]


def _review(session: Session, task: InboxTask, subject: Subject) -> Review | None:
    """The facts a hazard's review step decides on (None for other steps)."""
    facts = review_facts(session, subject, task.bpmn_id) if isinstance(subject, Hazard) else None
    if facts is None:
        return None
    assert isinstance(subject, Hazard)
    history = read_history(session, subject.instance_id, hazard_history(session, me(), subject)) \
        if facts.shows_outcome else []
    return Review(facts, history)


def _render(task: InboxTask, subject: Subject, gaps: list[int], form: FormSpec,
            values: dict[str, Any], errors: dict[str, str], status: int = 200,
            reward: rewards.RewardSuggestion | None = None,
            units: list[tuple[int, str]] | None = None, review: Review | None = None,
            staged: dict[str, list[str]] | None = None) -> tuple[str, int]:
    """The task page; `reward`: the rule and suggested amount a reward decision shows; `units`: the
    departments a listing decision may name; `review`: what a review step decides on; `staged`: photos kept
    from a failed attempt, by field."""
    return render_template("task.html", task=task, form=form, values=values, errors=errors, holiday_gaps=gaps,
                           reward=reward, review=review, staged=staged or {}, staged_key=_staged_key(task.task_id),
                           hazard=subject if isinstance(subject, Hazard) else None,
                           campaign=subject if isinstance(subject, Campaign) else None,
                           duty=subject if isinstance(subject, Duty) else None,
                           case=subject if isinstance(subject, Case) else None,
                           listing=subject if isinstance(subject, SupervisionListing) else None,
                           units=units or []), status


def _staged_key(task_id: str) -> str:
    """The staging folder of this task's form (photos kept for a retry)."""
    return f"task-{task_id}"


def _done_url(subject: Subject) -> str:
    if isinstance(subject, Hazard):
        return url_for("hazards.show", hazard_id=subject.id)
    if isinstance(subject, Case):
        return url_for("cases.show", case_id=subject.id)
    if isinstance(subject, Campaign):
        return url_for("campaigns.show", code=subject.code)
    if isinstance(subject, SupervisionListing):
        return url_for("listings.index")
    return url_for("inbox.inbox_page")


@bp.get("/tasks/<task_id>")
@login_required
def show(task_id: str) -> tuple[str, int]:
    with unit_of_work() as session:
        task, form = tasks.task_form(session, me(), task_id, today())
        subject = _subject(session, task)
        gaps = _holiday_gaps(session, task, subject)
        properties = _properties(session, task)
        values = prefilled_values(session, task, properties) if isinstance(subject, Campaign) else {}
        reward = _reward(session, subject, properties)
        if reward is not None:
            values = {"reward_amount": str(reward.amount)}
        units = _units(session, task, subject)
        review = _review(session, task, subject)
    return _render(task, subject, gaps, form, values, {}, reward=reward, units=units, review=review)


@bp.post("/tasks/<task_id>")
@login_required
def submit(task_id: str) -> Response | tuple[str, int]:
    with unit_of_work() as session:
        task, form = tasks.task_form(session, me(), task_id, today())
        subject = _subject(session, task)
        gaps = _holiday_gaps(session, task, subject)
        reward = _reward(session, subject, _properties(session, task))
        units = _units(session, task, subject)
        review = _review(session, task, subject)
    values = submitted_values(form)
    staged = staging(_staged_key(task_id))
    uploads = None
    try:
        uploads = submitted_photos(form, app_services().evidence, staged) if isinstance(subject, Hazard) else None
        with unit_of_work() as session:
            tasks.complete_task(session, me(), task_id, values, now(), uploads)
            stopped = session.scalar(select(ProcessInstanceRow.status)
                                     .where(ProcessInstanceRow.id == task.instance_id)) == "incident"
    except FormValidationError as invalid:
        return _render(task, subject, gaps, form, values, error_messages(form, invalid.errors), 422, reward, units,
                       review, keep_for_retry(staged, uploads))
    except InvalidInputError as refused:
        return _render(task, subject, gaps, form, values, {"_form": _(str(refused))}, 422, reward, units, review,
                       keep_for_retry(staged, uploads))
    except FrozenRecordError as frozen:
        flash(_(str(frozen)), "error")
        return _render(task, subject, gaps, form, values, {}, 409, reward, units, review)
    staged.discard()
    flash(_("已提交：%(name)s", name=task.name), "info")
    if stopped:
        flash(_("流程的下一步骤执行出错，已转安委办处理；处理后流程将继续"), "warning")
    return redirect(_done_url(subject))
