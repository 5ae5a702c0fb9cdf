"""Who can act on a timer's notice, by name: the people it reaches beside their organisations.

Only people of the organisations the notice goes to, or of the one acting on the step the timer watches,
are named, so a notice never crosses to an organisation with no part in it: the person who claimed that
step; in the enterprise whose work it is (a hazard's, a duty's, a permit's) a hazard's named 整改责任人 and,
for overdue and escalation kinds, its principal
(主要负责人) and safety officer (安全管理员, the name on the enterprise's profile) — an escalation of the
enterprise's own late step reaches them although it goes to the office and the department; for escalations
the staff of a notified department.
A name on a plan or a profile is matched to an active account of that enterprise by its username, else by
its display name when exactly one account bears it (two namesakes: neither is guessed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..store.models import Organisation, User
from . import audit
from .notices import ESCALATION_KINDS, OVERDUE_KINDS, QueuedEvent, WatchedStep, channels_of
from .personal_notices import NoticePolicy, queue_to_people


def notify_people(session: Session, event: QueuedEvent, now: datetime, policy: NoticePolicy, *,
                  enterprise: Organisation | None, hazard_id: int | None, history: tuple[str, int],
                  responsible: str | None = None) -> None:
    """Queue a timer event's notice to the people it names (people_to_notify) beside the organisations it went
    to, and put who got what on the history of `history` (audit type, id), under the timer's id (so it is hidden
    wherever that timer is)."""
    people = people_to_notify(session, enterprise, event.watched, event.kind, event.organisation_ids, responsible)
    deliveries = queue_to_people(session, event.key, event.kind, now, people, event.subject, event.body, hazard_id,
                                 policy)
    organisations = [session.get(Organisation, org_id) for org_id in sorted(event.organisation_ids)]
    recipients = ([{"name": d.person.display_name, "channels": list(d.channels), "held": list(d.held)}
                   for d in deliveries]
                  + [{"name": org.name, "channels": channels_of(org), "held": []}
                     for org in organisations if org is not None])
    audit.record(session, None, "notices_sent", history[0], history[1],
                 {"timer": event.timer, "kind": event.kind, "recipients": recipients}, now)


def people_to_notify(session: Session, enterprise: Organisation | None, watched: WatchedStep | None, kind: str,
                     organisation_ids: set[int], responsible: str | None = None) -> list[User]:
    """The people a `kind` notice about `enterprise`'s work (a hazard, a duty, a permit; None: no enterprise's),
    its timer watching the step `watched`, names: each once, in a fixed order. `responsible` is the name a plan
    gives the person in charge (a hazard's 整改责任人)."""
    found: dict[int, User] = {}
    claimant_id = watched.assignee_id if watched is not None else None
    involved = organisation_ids | ({watched.organisation_id} if watched is not None else set())

    def add(person: User | None) -> None:
        if person is not None and person.active and person.organisation_id in involved:
            found.setdefault(person.id, person)

    add(session.get(User, claimant_id) if claimant_id is not None else None)
    if enterprise is not None and enterprise.id in involved:
        add(account_named(session, enterprise.id, responsible))
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


def account_named(session: Session, organisation_id: int, name: str | None) -> User | None:
    """The active account of `organisation_id` that `name` names: by username, else by a unique display name."""
    name = (name or "").strip()
    if not name:
        return None
    candidates = list(session.scalars(select(User).where(
        User.organisation_id == organisation_id, User.active.is_(True),
        or_(User.username == name, User.display_name == name)).order_by(User.id)))
    by_username = [user for user in candidates if user.username == name]  # usernames are unique
    namesakes = [user for user in candidates if user.display_name == name]
    return by_username[0] if by_username else namesakes[0] if len(namesakes) == 1 else None
