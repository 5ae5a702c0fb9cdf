"""Who can act on a hazard's notice, by name: the people a timer's notice reaches beside their organisations.

Only people of the organisations the notice goes to, or of the one acting on the step the timer watches,
are named, so a notice never crosses to an organisation with no part in it: the person who claimed that
step; in the hazard's enterprise its named 整改责任人 and, for overdue and escalation kinds, its principal
(主要负责人) and safety officer (安全管理员, the name on the enterprise's profile) — an escalation of the
enterprise's own late step reaches them although it goes to the office and the department; for escalations
the staff of a notified department.
A name on a plan or a profile is matched to an active account of that enterprise by its username, else by
its display name when exactly one account bears it (two namesakes: neither is guessed).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Hazard, InboxTask, Organisation, User
from .notices import ESCALATION_KINDS, OVERDUE_KINDS


def people_to_notify(session: Session, hazard: Hazard, instance_id: int, step: str | None, kind: str,
                     organisation_ids: set[int]) -> list[User]:
    """The people a `kind` notice of `hazard` (its timer watching `step`) names, each once, in a fixed order."""
    found: dict[int, User] = {}
    claimant_id, acting_id = _watched_task(session, instance_id, step)
    involved = organisation_ids | ({acting_id} if acting_id is not None else set())

    def add(person: User | None) -> None:
        if person is not None and person.active and person.organisation_id in involved:
            found.setdefault(person.id, person)

    add(session.get(User, claimant_id) if claimant_id is not None else None)
    if hazard.enterprise_id in involved:
        enterprise = hazard.enterprise
        add(account_named(session, enterprise.id, hazard.responsible_person))
        if kind in OVERDUE_KINDS | ESCALATION_KINDS:
            for principal in session.scalars(select(User).where(
                    User.organisation_id == enterprise.id, User.is_principal.is_(True)).order_by(User.id)):
                add(principal)
            add(account_named(session, enterprise.id, enterprise.safety_officer_name))
    if kind in ESCALATION_KINDS:
        departments = select(Organisation.id).where(Organisation.id.in_(organisation_ids),
                                                    Organisation.kind == "department")
        for staff in session.scalars(select(User).where(User.organisation_id.in_(departments),
                                                        User.active.is_(True)).order_by(User.id)):
            add(staff)
    return list(found.values())


def _watched_task(session: Session, instance_id: int, step: str | None) -> tuple[int | None, int | None]:
    """Who claimed the open task of `step` on the instance (None: nobody) and the organisation acting on it
    (None: no such task, e.g. a timer watching no step)."""
    if step is None:
        return None, None
    row = session.execute(select(InboxTask.assignee_id, InboxTask.organisation_id).where(
        InboxTask.instance_id == instance_id, InboxTask.bpmn_id == step, InboxTask.completed_at.is_(None))
        .order_by(InboxTask.id.desc()).limit(1)).first()
    return (row.assignee_id, row.organisation_id) if row is not None else (None, None)


def account_named(session: Session, organisation_id: int, name: str | None) -> User | None:
    """The active account of `organisation_id` that `name` names: by username, else by a unique display name."""
    name = (name or "").strip()
    if not name:
        return None
    in_organisation = select(User).where(User.organisation_id == organisation_id, User.active.is_(True))
    by_username = session.scalar(in_organisation.where(User.username == name))
    if by_username is not None:
        return by_username
    namesakes = list(session.scalars(in_organisation.where(User.display_name == name).limit(2)))
    return namesakes[0] if len(namesakes) == 1 else None
