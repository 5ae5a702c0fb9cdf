"""Self-inspection checklists (对标对表自查): departments build them, enterprises walk them.

A department builds a checklist for a sector it supervises from the items of the standards
and key inspection items in force there. An enterprise of that sector walks it item by item
(compliant / hazard found / not applicable, a note and photos), saving as it goes; submitting
the finished walk starts one hazard loop per item marked found, prefilled with the item, all
in one transaction; the enterprise's principal then signs it, and the signed walk counts in
the weekly statistics.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from ..engine.calendar import SHANGHAI
from ..store.models import (
    Checklist,
    ChecklistItem,
    Duty,
    EnterpriseSector,
    InboxTask,
    Organisation,
    Sector,
    SelfInspection,
    SelfInspectionAnswer,
    User,
)
from . import audit, standards
from .duties import open_duty_on
from .errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from .evidence import EvidenceStore, Photo, Uploads
from .hazards import start_hazard
from .roles import may_act, visible_by_enterprise
from .tasks import complete_task

ANSWERS = ("compliant", "found", "not_applicable")
KINDS = ("self_inspection", "principal_inspection")
CATEGORIES = ("equipment", "violation", "management")
MAX_PHOTOS_PER_ITEM = 9
MAX_PARTICIPANTS = 100_000  # as the duty form's 参加人数


@dataclass(frozen=True)
class AnswerInput:
    """What the walker entered for one checklist item (photos checked, not yet stored)."""

    answer: str
    note: str = ""
    location: str = ""
    category: str = ""
    photos: Sequence[Photo] = field(default_factory=tuple)
    removed: frozenset[str] = frozenset()  # sha256 of photos saved earlier that are to be taken off

    def kept(self, saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The photos saved earlier that stay on the answer."""
        return [p for p in saved if p["sha256"] not in self.removed]


# -- checklists ---------------------------------------------------------------------------------------------

def visible_checklists(query: Select, user: User) -> Select:
    """Limit a query over checklists: an enterprise sees those (in use) of all the sectors it works in, a
    department those it built, towns and the office all."""
    if user.role == "enterprise":
        sectors = select(EnterpriseSector.sector_code).where(EnterpriseSector.enterprise_id == user.organisation_id)
        return query.where(Checklist.sector_code.in_(sectors), Checklist.withdrawn_at.is_(None))
    if user.role == "department":
        return query.where(Checklist.department_id == user.organisation_id)
    return query


def get_checklist(session: Session, user: User, checklist_id: int) -> Checklist:
    checklist = session.scalar(visible_checklists(select(Checklist), user).where(Checklist.id == checklist_id))
    if checklist is None:
        raise NotFoundError(f"checklist {checklist_id} not found")
    return checklist


def checklist_items(session: Session, checklist_id: int) -> list[ChecklistItem]:
    return list(session.scalars(select(ChecklistItem).where(ChecklistItem.checklist_id == checklist_id)
                                .order_by(ChecklistItem.position)))


def create_checklist(session: Session, actor: User, sector_code: str, title: str, item_ids: Sequence[int],
                     now: datetime) -> Checklist:
    """A checklist of items in force for the sector, in the order given; by the sector's department."""
    sector = session.get(Sector, sector_code)
    if actor.role != "department" or sector is None or sector.department_id != actor.organisation_id:
        raise PermissionDeniedError("checklists are built by the department that supervises the sector")
    if not title.strip() or len(title.strip()) > 200:
        raise InvalidInputError("请填写清单名称（不超过 200 字）")
    applicable = {i.id: i for i in standards.applicable_items(session, sector_code, now.astimezone(SHANGHAI).date())}
    chosen = list(dict.fromkeys(item_ids))
    if not chosen:
        raise InvalidInputError("请至少选择一个检查条款")
    if unknown := [i for i in chosen if i not in applicable]:
        raise InvalidInputError(f"条款不属于该行业现行的判定标准或重点检查事项：{', '.join(map(str, unknown))}")
    checklist = Checklist(title=title.strip(), sector_code=sector_code, department_id=actor.organisation_id,
                          created_by_id=actor.id, created_at=now)
    session.add(checklist)
    session.flush()
    session.add_all(ChecklistItem(checklist_id=checklist.id, position=n, standard_item_id=i)
                    for n, i in enumerate(chosen, start=1))
    audit.record(session, actor, "create_checklist", "checklist", checklist.id,
                 {"title": checklist.title, "sector": sector_code, "items": chosen}, now)
    return checklist


def withdraw_checklist(session: Session, actor: User, checklist_id: int, now: datetime) -> None:
    """No new walks of this checklist; walks already made keep it."""
    checklist = get_checklist(session, actor, checklist_id)
    if actor.role != "department" or checklist.withdrawn_at is not None:
        raise InvalidInputError("只有编制部门可以停用仍在使用的清单")
    checklist.withdrawn_at = now
    audit.record(session, actor, "withdraw_checklist", "checklist", checklist.id, {}, now)


# -- walks ----------------------------------------------------------------------------------------------------

def visible_inspections(query: Select, user: User) -> Select:
    return visible_by_enterprise(query, user, SelfInspection.enterprise_id)


def get_inspection(session: Session, user: User, inspection_id: int) -> SelfInspection:
    found = session.scalar(visible_inspections(select(SelfInspection), user).where(SelfInspection.id == inspection_id))
    if found is None:
        raise NotFoundError(f"self-inspection {inspection_id} not found")
    return found


def answers_of(session: Session, inspection_id: int) -> dict[int, SelfInspectionAnswer]:
    """The answers given so far, by checklist item id."""
    rows = session.scalars(select(SelfInspectionAnswer).where(SelfInspectionAnswer.self_inspection_id == inspection_id))
    return {a.checklist_item_id: a for a in rows}


@dataclass(frozen=True)
class Steps:
    """Where item `at` (1-based, in checklist order) of a walk stands, for walking one item per screen."""

    at: int
    count: int
    answered: int
    previous: int | None  # None on the first item
    next: int | None  # None on the last item
    next_open: int | None  # the next unanswered item after `at`, wrapping round; `at` if it is the only one
    first_open: int | None  # None when every item is answered


def walk_steps(lines: Sequence[ChecklistItem], answered: Collection[int], at: int | None = None) -> Steps:
    """The neighbours and progress of item `at` (default: the first unanswered item, else the first).

    `answered` holds the checklist item ids answered so far; `at` must be within 1..len(lines)."""
    count = len(lines)
    open_items = [n for n, line in enumerate(lines, start=1) if line.id not in answered]
    first_open = open_items[0] if open_items else None
    at = at or first_open or 1
    after = [n for n in open_items if n > at] + [n for n in open_items if n < at] + [n for n in open_items if n == at]
    return Steps(at, count, count - len(open_items), at - 1 if at > 1 else None, at + 1 if at < count else None,
                 after[0] if after else None, first_open)


def start_walk(session: Session, actor: User, checklist_id: int, kind: str, now: datetime) -> SelfInspection:
    """An enterprise begins walking a checklist of one of its sectors."""
    if actor.role != "enterprise":
        raise PermissionDeniedError("self-inspections are walked by enterprises")
    checklist = get_checklist(session, actor, checklist_id)
    if kind not in KINDS:
        raise InvalidInputError(f"检查类型应为 {' 或 '.join(KINDS)}")
    walk = SelfInspection(checklist_id=checklist.id, enterprise_id=actor.organisation_id, kind=kind, status="walking",
                          started_by_id=actor.id, started_at=now, updated_at=now)
    session.add(walk)
    session.flush()
    audit.record(session, actor, "start_self_inspection", "self_inspection", walk.id,
                 {"checklist": checklist.title, "kind": kind}, now)
    return walk


def _own_walk(session: Session, actor: User, inspection_id: int, version: int, status: str) -> SelfInspection:
    walk = get_inspection(session, actor, inspection_id)
    if actor.role != "enterprise":
        raise PermissionDeniedError("only the enterprise walks its self-inspection")
    if walk.status != status:
        raise ConflictError("该自查已提交，不能再修改" if status == "walking" else "该自查不在待签字状态")
    if walk.version != version:
        raise ConflictError("该自查已被他人更新，请刷新后重试")
    return walk


def save_answers(session: Session, actor: User, inspection_id: int, version: int,
                 answers: Mapping[int, AnswerInput], store: EvidenceStore, now: datetime) -> SelfInspection:
    """Record answers (checked whole: InvalidInputError naming each wrong item, nothing saved).

    New photos add to those saved before; photos named in `removed` are taken off the answer (the
    file stays in the content-addressed store, where another answer may share it, but is no longer
    served for this walk)."""
    walk = _own_walk(session, actor, inspection_id, version, "walking")
    items = {i.id: i for i in checklist_items(session, walk.checklist_id)}
    given = answers_of(session, walk.id)
    known = sorted((i for i in answers if i in items), key=lambda i: items[i].position)
    errors = [f"第 {items[i].position} 项（{items[i].item.number}）：{problem}"
              for i in known for problem in _answer_problems(answers[i], given.get(i))]
    if unknown := [i for i in answers if i not in items]:
        errors.append(f"不属于本清单的条款：{', '.join(map(str, unknown))}")
    if errors:
        raise InvalidInputError("未保存：\n" + "\n".join(errors))
    for item_id, entry in answers.items():
        row = given.get(item_id) or SelfInspectionAnswer(self_inspection_id=walk.id, checklist_item_id=item_id,
                                                         photos=[])
        kept = entry.kept(row.photos)
        stored = {p["sha256"] for p in kept}
        fresh = [p for p in entry.photos if p.sha256 not in stored]
        for photo in fresh:
            store.write(photo)
        row.answer, row.note = entry.answer, entry.note.strip() or None
        row.location, row.category = entry.location.strip() or None, entry.category or None
        row.photos = kept + [{"sha256": p.sha256, "media_type": p.media_type, "size": len(p.content),
                                    "name": p.original_name} for p in fresh]
        row.answered_by_id, row.answered_at = actor.id, now
        session.add(row)
    walk.updated_at = now
    flag_modified(walk, "updated_at")  # always an UPDATE, so the version moves and a concurrent save fails
    _flush(session)
    return walk


def _answer_problems(entry: AnswerInput, existing: SelfInspectionAnswer | None) -> list[str]:
    problems = []
    if entry.answer not in ANSWERS:
        problems.append("请选择 合格 / 发现隐患 / 不适用")
    if entry.answer == "found":
        if not entry.note.strip():
            problems.append("发现隐患须描述存在的问题")
        if not entry.location.strip():
            problems.append("发现隐患须填写隐患部位")
        if entry.category not in CATEGORIES:
            problems.append("发现隐患须选择隐患类别")
    if len(entry.note) > 4000 or len(entry.location) > 200:
        problems.append("说明不超过 4000 字，部位不超过 200 字")
    if len(entry.photos) + len(entry.kept(existing.photos if existing else [])) > MAX_PHOTOS_PER_ITEM:
        problems.append(f"每项照片不超过 {MAX_PHOTOS_PER_ITEM} 张")
    return problems


def submit_walk(session: Session, actor: User, inspection_id: int, version: int, store: EvidenceStore,
                now: datetime) -> list[int]:
    """Finish the walk: every item answered, one hazard started per item found (prefilled). Returns their ids."""
    walk = _own_walk(session, actor, inspection_id, version, "walking")
    items = checklist_items(session, walk.checklist_id)
    given = answers_of(session, walk.id)
    if missing := [i for i in items if i.id not in given]:
        numbers = "、".join(f"{i.position}" for i in missing[:20])
        raise InvalidInputError(f"尚有 {len(missing)} 项未检查（第 {numbers} 项），请逐项检查后提交")
    enterprise = session.get(Organisation, walk.enterprise_id)
    assert enterprise is not None
    found_on = now.astimezone(SHANGHAI).date().isoformat()
    hazard_ids = []
    for line in items:
        answer = given[line.id]
        if answer.answer != "found":
            continue
        item = line.item
        data = {"source": "self_inspection", "hazard_level": "general", "category": answer.category,
                "title": item.text.rstrip("；;。.")[:200], "description": answer.note, "location": answer.location,
                "found_on": found_on}
        photos = [Photo(store.path(p["sha256"]).read_bytes(), p["sha256"], p["media_type"], p["name"])
                  for p in answer.photos]
        reported = start_hazard(session, actor, enterprise, data, now, Uploads(store, {"photos_before": photos}),
                                items=[item])
        answer.hazard_id = reported.hazard_id
        hazard_ids.append(reported.hazard_id)
    walk.status, walk.submitted_at, walk.updated_at = "submitted", now, now
    _flush(session)
    audit.record(session, actor, "submit_self_inspection", "self_inspection", walk.id,
                 {"items": len(items), "found": len(hazard_ids), "hazards": hazard_ids}, now)
    return hazard_ids


def sign_walk(session: Session, actor: User, inspection_id: int, version: int, signature: str,
              now: datetime, participants: int | None = None) -> Duty | None:
    """The enterprise's principal signs the submitted walk with their own name.

    A principal-led inspection (which needs how many took part) also completes the enterprise's
    open 主要负责人带队检查 duty of the period the walk was submitted in, in the same transaction,
    so the duty is not reported twice. Returns that duty, if there was one to complete.
    """
    walk = _own_walk(session, actor, inspection_id, version, "submitted")
    if not actor.is_principal:
        raise PermissionDeniedError("自查清单须由本企业主要负责人签字")
    if signature.strip() != actor.display_name:
        raise InvalidInputError("签名须为本人姓名")
    led = walk.kind == "principal_inspection"
    if led and not (participants and 1 <= participants <= MAX_PARTICIPANTS):
        raise InvalidInputError(f"请填写参加检查的人数（1–{MAX_PARTICIPANTS}）")
    walk.status, walk.signed_by_id, walk.signed_at, walk.updated_at = "signed", actor.id, now, now
    _flush(session)
    duty = _complete_led_inspection_duty(session, actor, walk, participants or 0, now) if led else None
    audit.record(session, actor, "sign_self_inspection", "self_inspection", walk.id,
                 {"signature": signature.strip(), "participants": participants, "duty": duty.id if duty else None},
                 now)
    return duty


def _complete_led_inspection_duty(session: Session, principal: User, walk: SelfInspection, participants: int,
                                  now: datetime) -> Duty | None:
    """Complete the open principal-led inspection duty of the walk's period with the walk's record."""
    assert walk.submitted_at is not None
    performed_on = walk.submitted_at.astimezone(SHANGHAI).date()
    duty = open_duty_on(session, walk.enterprise, "principal_inspection", performed_on)
    if duty is None:  # not opened yet, or already done
        return None
    task = session.scalar(select(InboxTask).where(InboxTask.instance_id == duty.instance_id,
                                                  InboxTask.completed_at.is_(None)))
    if task is None or not may_act(principal, task):  # claimed by a colleague: theirs to complete
        return None
    answers = answers_of(session, walk.id).values()
    found = sum(1 for a in answers if a.answer == "found")
    content = (f"按《{walk.checklist.title}》对标对表检查 {len(answers)} 项，发现隐患 {found} 项"
               f"（自查记录 {walk.id}）")
    complete_task(session, principal, task.task_id,
                  {"performed_on": performed_on.isoformat(), "led_by": principal.display_name[:50],  # the form's limit
                   "participants": str(participants), "content": content}, now)
    return duty


def set_principal(session: Session, user: User, now: datetime) -> User | None:
    """Make an enterprise user its principal (who signs walks); the previous one, returned, no longer is."""
    if user.role != "enterprise":
        raise InvalidInputError(f"{user.username} is not an enterprise user")
    previous = session.scalar(select(User).where(User.organisation_id == user.organisation_id,
                                                 User.is_principal.is_(True), User.id != user.id))
    if previous is not None:
        previous.is_principal = False
    user.is_principal = True
    audit.record(session, None, "set_principal", "user", user.id,
                 {"user": user.username, "previous": previous.username if previous else None}, now)
    return previous


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise ConflictError("该自查已被他人更新，请刷新后重试") from None
