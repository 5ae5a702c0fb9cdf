"""The SMS channel: a notice to one person, as a pre-approved template with a few short parameters.

Chinese SMS providers send only templates approved in advance under an approved signature, so a notice is
not sent as its text: its kind picks the template (WORKFLOW_APP_SMS_TEMPLATES) and the hazard's code, title
and due date, read back from the notice's subject, fill the template's variables. The provider (Alibaba Cloud
or Tencent Cloud, services/sms_providers.py) is behind one small protocol. What retrying cannot mend (no
person, no mobile number, no template for the kind, a refusal of the provider) raises Undeliverable, so the
notice is parked at once with its reason on the 通知 page; the rest is retried like e-mail.
"""

from __future__ import annotations

import re
from datetime import timedelta
from hashlib import sha256

from ..config import SmsSettings
from ..store.models import Notice, Organisation, User
from .channels import Undeliverable, one_line
from .notices import SUBJECTS
from .robot_cards import cut
from .sms_providers import SmsMessage, SmsProvider, provider_for

LONGEST_VALUE = 20
"""Characters of one template variable at most: providers refuse longer ones (a title is shortened)."""
_MOBILE = re.compile(r"(?:\+86|0086)?(1[3-9]\d{9})")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def mainland_mobile(person: User) -> str:
    """The person's mainland mobile number as 11 digits (spaces and dashes ignored, +86 allowed), or
    Undeliverable saying why not; the number itself is not repeated (it may be anything a user typed)."""
    who = one_line(person.display_name)[:50]
    if not person.phone or not person.phone.strip():
        raise Undeliverable(f"{who} has no mobile phone number")
    found = _MOBILE.fullmatch(_SEPARATORS.sub("", person.phone))
    if found is None:
        raise Undeliverable(f"{who}'s phone number is not a mainland mobile number (11 digits from 13 to 19, "
                            "optionally +86)")
    return found[1]


def _subject_pattern(text: str) -> re.Pattern[str]:
    """A subject template of notices.SUBJECTS as a pattern that reads its values back."""
    pattern = re.escape(text)
    for name, group in (("code", r"(?P<code>\S+)"), ("title", r"(?P<title>.*)"),
                        ("deadline", r"(?P<due>[^（）]*)"), ("due", r"(?P<due>[^（）]*)")):
        pattern = pattern.replace(re.escape("{" + name + "}"), group)
    return re.compile(pattern, re.S)


_SUBJECT_PATTERNS = {kind: _subject_pattern(text) for kind, text in SUBJECTS.items()}


def template_values(notice: Notice) -> dict[str, str]:
    """The values a template may take: code, title and due of a hazard notice (read back from its subject);
    for other notices (the daily digest …) the subject as the title. Each value is one line, ≤ LONGEST_VALUE."""
    pattern = _SUBJECT_PATTERNS.get(notice.kind)
    found = pattern.fullmatch(notice.subject) if pattern is not None else None
    values = {k: v for k, v in found.groupdict().items() if v and v != "—"} if found else {"title": notice.subject}
    return {name: _short(value) for name, value in values.items()}


def _short(value: str) -> str:
    return cut(one_line(value), LONGEST_VALUE)


def reference(notice: Notice) -> str:
    """The provider-side reference of a notice (Aliyun OutId, Tencent SessionContext): the same on every retry,
    a hash so the key's internal ids stay inside."""
    return sha256(notice.idempotency_key.encode("utf-8")).hexdigest()[:32]


class SmsChannel:
    """Sends a personal notice to the person's mobile through the configured provider."""

    name = "sms"
    STEPS = 4  # connect, send the request, wait for the answer, read it

    def __init__(self, settings: SmsSettings, provider: SmsProvider | None = None) -> None:
        self.settings, self.workers = settings, settings.workers
        self.provider = provider or (provider_for(settings) if settings.enabled else None)

    @property
    def longest_send(self) -> timedelta:
        return timedelta(seconds=self.STEPS * self.settings.timeout)

    def send(self, notice: Notice, recipient: Organisation, person: User | None = None) -> None:
        if self.provider is None:  # queued while SMS was configured, or by hand: parked, never left pending
            raise Undeliverable("SMS is not configured (WORKFLOW_APP_SMS_PROVIDER)")
        if person is None:
            raise Undeliverable("an SMS goes to one person; this notice names none")
        phone = mainland_mobile(person)
        template = self.settings.templates.get(notice.kind)
        if template is None:
            raise Undeliverable(f"no approved SMS template for kind {notice.kind!r} (WORKFLOW_APP_SMS_TEMPLATES)")
        values = template_values(notice)
        missing = [name for name in template.parameters if name not in values]
        if missing:
            raise Undeliverable(f"the SMS template {template.template_id} of kind {notice.kind!r} takes "
                                f"{', '.join(missing)}, which this notice does not carry")
        self.provider.send(SmsMessage(phone, self.settings.sign_name, template.template_id,
                                      tuple((name, values[name]) for name in template.parameters),
                                      reference(notice)))
