"""Each person's choice of channels per notice kind (通知设置).

In-app notices always reach a person: only e-mail and SMS can be chosen. A kind and channel nobody chose
follows the default: e-mail on when the person has an address, SMS on for overdue and escalation kinds when
the deployment has SMS configured (the caller says whether it has; services read no environment).
A person reads and changes only their own choices.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..store.models import NoticePreference, User
from .errors import FieldsInvalid
from .notices import ESCALATION_KINDS, OVERDUE_KINDS, SUBJECTS

KINDS = tuple(SUBJECTS)
"""The notice kinds a person chooses channels for: those that may be addressed to a person."""
KIND_NAMES = {
    "reminder": "整改即将到期", "overdue": "整改已逾期", "escalation": "整改逾期升级督办",
    "verify_reminder": "验收即将到期", "verify_overdue": "验收已逾期", "triage_overdue": "举报受理研判逾期",
    "plan_reminder": "治理方案即将到期", "plan_overdue": "治理方案已逾期", "plan_escalation": "治理方案逾期升级督办",
    "review_reminder": "方案审核即将到期", "review_overdue": "方案审核已逾期",
    "review_escalation": "方案审核逾期升级督办",
    "immediate_reminder": "立即整改今日到期", "immediate_overdue": "立即整改已逾期",
    "immediate_escalation": "立即整改逾期升级督办", "extension_reminder": "延期审批即将到期",
    "extension_overdue": "延期审批已逾期", "extension_escalation": "延期审批逾期升级督办",
}
"""Each kind's name on the settings page (message ids)."""
CHOSEN_CHANNELS = ("email", "sms")
"""The channels a person may turn on or off (in-app is always on)."""

Choices = dict[str, frozenset[str]]
"""Per kind, the channels (of CHOSEN_CHANNELS) that are on."""


def default_channels(user: User, kind: str, sms_configured: bool) -> frozenset[str]:
    """The channels on for `kind` while `user` never chose."""
    return frozenset((["email"] if user.email else [])
                     + (["sms"] if sms_configured and kind in OVERDUE_KINDS | ESCALATION_KINDS else []))


def choices_of(session: Session, user: User, sms_configured: bool) -> Choices:
    """Every kind's channels for `user`: what they chose, else the default."""
    chosen: dict[tuple[str, str], bool] = {
        (row.kind, row.channel): row.enabled
        for row in session.scalars(select(NoticePreference).where(NoticePreference.user_id == user.id))}
    choices = {}
    for kind in KINDS:
        default = default_channels(user, kind, sms_configured)
        choices[kind] = frozenset(channel for channel in CHOSEN_CHANNELS
                                  if chosen.get((kind, channel), channel in default))
    return choices


def offered_channels(sms_configured: bool) -> tuple[str, ...]:
    """The channels a person is offered: SMS only where the deployment sends it."""
    return CHOSEN_CHANNELS if sms_configured else ("email",)


def parse_choices(fields: Mapping[str, str] | list[str], offered: tuple[str, ...]) -> Choices:
    """The choices a settings form ticked: each ticked box is named `kind:channel`.

    An unknown kind, or a channel not `offered`, is refused (FieldsInvalid naming it), so a forged form
    changes nothing.
    """
    ticked: dict[str, set[str]] = {kind: set() for kind in KINDS}
    wrong: dict[str, str] = {}
    for name in fields:
        kind, _, channel = str(name).partition(":")
        if kind not in ticked:
            wrong[str(name)[:80]] = "未知的通知类型"
        elif channel not in offered:
            wrong[str(name)[:80]] = "未知的通知方式（站内通知始终开启）"
        else:
            ticked[kind].add(channel)
    if wrong:
        raise FieldsInvalid(wrong)
    return {kind: frozenset(channels) for kind, channels in ticked.items()}


def save_choices(session: Session, user: User, choices: Choices, offered: tuple[str, ...]) -> None:
    """Store `user`'s own choice for every kind on each `offered` channel, replacing what they chose there before
    (a channel not offered keeps its rows: SMS chosen while it was configured stays chosen)."""
    session.execute(delete(NoticePreference).where(NoticePreference.user_id == user.id,
                                                   NoticePreference.channel.in_(offered)))
    session.add_all([NoticePreference(user_id=user.id, kind=kind, channel=channel,
                                      enabled=channel in choices.get(kind, frozenset()))
                     for kind in KINDS for channel in offered])
