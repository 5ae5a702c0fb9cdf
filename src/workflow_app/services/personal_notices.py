"""Queue a notice to named people: in-app always, e-mail and SMS as each person chose (notice_preferences).

An SMS queued in the quiet hours (22:00–07:00 Shanghai) waits until 07:00, except an escalation's. Beyond a
person's daily cap (personal e-mails and SMS queued that Shanghai day) a notice is stored `held`: the
dispatcher never sends it, the daily digest rolls it in. Escalations are neither held back nor held: they
are what must reach someone at once. The idempotency key of a personal notice is
`{event}:u{user id}:{channel}`, so an event reaches each person on each channel once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..store.models import DIGESTED, HELD, PENDING, SENT, Notice, User
from .notice_preferences import choices_of, default_channels
from .notices import ESCALATION_KINDS

QUIET_START, QUIET_END = time(22, 0), time(7, 0)
CAPPED_CHANNELS = ("email", "sms")
"""The personal channels the daily cap counts (in-app notices cost nothing and are never held)."""


@dataclass(frozen=True)
class NoticePolicy:
    """What the deployment allows, given by the caller that holds the settings (the scheduler)."""

    sms_configured: bool = False
    daily_cap: int = 20


NO_SMS = NoticePolicy()
"""The policy of a deployment without SMS, with the default cap (and of callers that fire no timers)."""


@dataclass(frozen=True)
class Delivery:
    """What one person was sent for one event: the channels, and those held by the cap."""

    person: User
    channels: tuple[str, ...]
    held: tuple[str, ...]


def sms_not_before(now: datetime, kind: str) -> datetime | None:
    """When an SMS of `kind` queued at `now` may go: None (at once), or 07:00 Shanghai after a quiet-hour queue."""
    if kind in ESCALATION_KINDS:
        return None
    local = now.astimezone(SHANGHAI)
    if QUIET_END <= local.time() < QUIET_START:
        return None
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=SHANGHAI)


def sent_today(session: Session, user_id: int, now: datetime) -> int:
    """Personal e-mails and SMS queued for `user_id` this Shanghai day and not held."""
    start = datetime.combine(now.astimezone(SHANGHAI).date(), time(0), tzinfo=SHANGHAI)
    return session.scalar(select(func.count(Notice.id)).where(
        Notice.recipient_user_id == user_id, Notice.channel.in_(CAPPED_CHANNELS), Notice.created_at >= start,
        Notice.status.not_in((HELD, DIGESTED)))) or 0


def queue_to_people(session: Session, event_key: str, kind: str, now: datetime, people: list[User],
                    subject: str, body: str, hazard_id: int | None, policy: NoticePolicy) -> list[Delivery]:
    """One notice per person and channel they receive `kind` on; returns who got what."""
    deliveries = []
    for person in people:
        choices = choices_of(session, person, policy.sms_configured)
        chosen = choices[kind] if kind in choices else default_channels(person, kind, policy.sms_configured)
        wanted = [c for c in CAPPED_CHANNELS if c in chosen and _reachable(person, c, policy)]
        left = policy.daily_cap - (sent_today(session, person.id, now) if wanted else 0)
        sent: list[str] = ["in_app"]
        held: list[str] = []
        _add(session, event_key, kind, now, person, "in_app", subject, body, hazard_id, SENT, None)
        for channel in wanted:
            status = PENDING if left > 0 or kind in ESCALATION_KINDS else HELD  # an escalation is never held
            left -= 1
            (sent if status == PENDING else held).append(channel)
            not_before = sms_not_before(now, kind) if channel == "sms" and status == PENDING else None
            _add(session, event_key, kind, now, person, channel, subject, body, hazard_id, status, not_before)
        deliveries.append(Delivery(person, tuple(sent), tuple(held)))
    return deliveries


def _reachable(person: User, channel: str, policy: NoticePolicy) -> bool:
    """Whether `person` has an address for `channel` (no notice is queued only to be parked)."""
    return bool(person.email) if channel == "email" else bool(person.phone) and policy.sms_configured


def _add(session: Session, event_key: str, kind: str, now: datetime, person: User, channel: str, subject: str,
         body: str, hazard_id: int | None, status: str, not_before: datetime | None) -> None:
    session.add(Notice(
        idempotency_key=f"{event_key}:u{person.id}:{channel}", event_key=event_key, channel=channel, kind=kind,
        recipient_org_id=person.organisation_id, recipient_user_id=person.id, hazard_id=hazard_id,
        subject=subject, body=body, created_at=now, status=status, sent_at=now if status == SENT else None,
        next_attempt_at=not_before))
