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


def parse_choices(fields: Mapping[str, str] | list[str]) -> Choices:
    """The choices a settings form ticked: each ticked box is named `kind:channel`.

    An unknown kind or channel is refused (FieldsInvalid naming it), so a forged form changes nothing.
    """
    ticked: dict[str, set[str]] = {kind: set() for kind in KINDS}
    wrong: dict[str, str] = {}
    for name in fields:
        kind, _, channel = str(name).partition(":")
        if kind not in ticked:
            wrong[str(name)[:80]] = "未知的通知类型"
        elif channel not in CHOSEN_CHANNELS:
            wrong[str(name)[:80]] = "未知的通知方式（站内通知始终开启）"
        else:
            ticked[kind].add(channel)
    if wrong:
        raise FieldsInvalid(wrong)
    return {kind: frozenset(channels) for kind, channels in ticked.items()}


def save_choices(session: Session, user: User, choices: Choices) -> None:
    """Store `user`'s own choice for every kind and channel (replacing what they chose before)."""
    session.execute(delete(NoticePreference).where(NoticePreference.user_id == user.id))
    session.add_all([NoticePreference(user_id=user.id, kind=kind, channel=channel,
                                      enabled=channel in choices.get(kind, frozenset()))
                     for kind in KINDS for channel in CHOSEN_CHANNELS])
