"""Who can act on a hazard's notice, by name: the people a timer's notice reaches beside their organisations.

Only people of the organisations the notice goes to are named, so a notice never crosses to another
organisation: the person who claimed the step the timer watches; in the hazard's enterprise its named
整改责任人 and, for overdue and escalation kinds, its principal (主要负责人) and safety officer
(安全管理员, the name on the enterprise's profile); for escalations the staff of a notified department.
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

    def add(person: User | None) -> None:
        if person is not None and person.active and person.organisation_id in organisation_ids:
            found.setdefault(person.id, person)

    add(_claimant(session, instance_id, step))
    if hazard.enterprise_id in organisation_ids:
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


def _claimant(session: Session, instance_id: int, step: str | None) -> User | None:
    """Who claimed the open task of `step` (any open step when the timer watches none) on the instance."""
    query = select(InboxTask.assignee_id).where(InboxTask.instance_id == instance_id,
                                                InboxTask.completed_at.is_(None), InboxTask.assignee_id.is_not(None))
    if step is not None:
        query = query.where(InboxTask.bpmn_id == step)
    assignee_id = session.scalar(query.order_by(InboxTask.id.desc()).limit(1))
    return session.get(User, assignee_id) if assignee_id is not None else None


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
