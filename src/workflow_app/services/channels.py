"""Delivery channels for outbox notices: e-mail over SMTP and a webhook for group robots.

Every message carries the notice's idempotency key (e-mail Message-ID, webhook header
and body), so a receiver can drop the second copy of a retry whose first copy arrived
but whose acknowledgement was lost.

Each channel says how many notices it may send at once (`workers`) and how long one send
can take at most (`longest_send`): every blocking network step is bounded by its timeout,
and the dispatcher leases a notice for longer than that.
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import urllib.request
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from hashlib import sha256
from typing import Any, Protocol

from ..config import SmtpSettings
from ..store.models import Notice, Organisation, User
from . import robot_cards


class DeliveryError(Exception):
    """A channel could not deliver a notice; the dispatcher retries later."""


class Undeliverable(DeliveryError):
    """Retrying cannot help (no address, an invalid phone number, a template the provider has not approved):
    the dispatcher parks the notice at once, with this reason, for the office to see on 通知."""


class Channel(Protocol):
    """Sends one notice to one organisation, or to one person of it (`person`), or raises DeliveryError."""

    name: str
    workers: int
    """How many notices of this channel one dispatcher sends at once."""

    @property
    def longest_send(self) -> timedelta:
        """An upper bound of one send's duration."""

    def send(self, notice: Notice, recipient: Organisation, person: User | None = None) -> None: ...


class EmailChannel:
    """E-mail over SMTP; the Message-ID is derived from the idempotency key."""

    name = "email"
    STEPS = 12  # connect, greeting, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, message, end, QUIT

    def __init__(self, settings: SmtpSettings, workers: int = 2):
        self.settings, self.workers = settings, workers

    @property
    def longest_send(self) -> timedelta:
        return timedelta(seconds=self.STEPS * self.settings.timeout)

    def send(self, notice: Notice, recipient: Organisation, person: User | None = None) -> None:
        if not self.settings.host:
            raise DeliveryError("e-mail is not configured (WORKFLOW_APP_SMTP_HOST)")
        address = person.email if person is not None else recipient.email
        if not address:
            raise Undeliverable(f"{person.display_name if person else recipient.name} has no e-mail address")
        message = EmailMessage()
        message["From"], message["To"] = self.settings.sender, address
        message["Subject"] = one_line(notice.subject)
        message["Date"] = format_datetime(notice.created_at)
        message["Message-ID"] = message_id(notice.idempotency_key, self.settings.sender)
        message["X-Idempotency-Key"] = notice.idempotency_key
        message.set_content(notice.body)
        try:
            with self._connect() as smtp:
                if self.settings.username:
                    smtp.login(self.settings.username, self.settings.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.settings.host}:{self.settings.port}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp


class WebhookChannel:
    """POST to a group robot: a message card linking to the hazard for WeCom and DingTalk robots when the
    product's address is known (`base_url`), else the markdown message both accept (services/robot_cards)."""

    name = "webhook"
    STEPS = 4  # connect, send the request, wait for the answer, read it

    def __init__(self, timeout: float = 10.0, workers: int = 4, base_url: str | None = None):
        self.timeout, self.workers, self.base_url = timeout, workers, base_url

    @property
    def longest_send(self) -> timedelta:
        return timedelta(seconds=self.STEPS * self.timeout)

    def send(self, notice: Notice, recipient: Organisation, person: User | None = None) -> None:
        """The organisation's group robot; a notice to one person goes to the same group."""
        if not recipient.webhook_url:
            raise Undeliverable(f"{recipient.name} has no webhook")
        payload = self.payload(notice, recipient.webhook_url)
        payload["idempotency_key"] = notice.idempotency_key
        request = urllib.request.Request(
            recipient.webhook_url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": notice.idempotency_key})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = response.read(4096)
        except OSError as exc:  # URLError and HTTPError are OSErrors
            raise DeliveryError(f"webhook {recipient.webhook_url}: {exc}") from exc
        _check_robot_answer(answer)

    def payload(self, notice: Notice, webhook_url: str) -> dict[str, Any]:
        """The message for the robot at `webhook_url`: its card when it has one and there is a page to open."""
        kind = robot_cards.robot_kind(webhook_url)
        link = f"{self.base_url}/hazards/{notice.hazard_id}" if self.base_url and notice.hazard_id else None
        if kind == "wecom" and link:
            rows = [(one_line(key), one_line(value)) for key, sep, value in
                    (line.partition("：") for line in notice.body.splitlines()[1:]) if sep]
            return robot_cards.wecom_card(one_line(notice.subject), rows, link)
        subject, body = markdown_text(one_line(notice.subject)), markdown_text(notice.body)
        if kind == "dingtalk" and link:
            return robot_cards.dingtalk_card(subject, body, link)
        return robot_cards.markdown_message(subject, body)


def message_id(idempotency_key: str, sender: str) -> str:
    """The same Message-ID every time a notice is sent, so mail servers and clients drop a second copy.

    The key is hashed (it names internal ids); the domain is the sender's, if it has a plain one.
    """
    domain = parseaddr(sender)[1].rpartition("@")[2]
    if not _DOMAIN.fullmatch(domain):
        domain = "workflow-app.invalid"
    return f"<{sha256(idempotency_key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def one_line(text: str) -> str:
    """`text` as one header line: line breaks and other control characters become spaces (no header injection)."""
    return " ".join(_CONTROL.sub(" ", text).split())


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MARKDOWN_INERT = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "*": "＊", "_": "＿",
                                 "`": "｀", "#": "＃", "|": "｜", "~": "～", "!": "！", "\\": "＼"})


def markdown_text(text: str) -> str:
    """`text` (which may hold what users typed) as robot markdown that shows literally.

    WeCom and DingTalk robots honour no backslash escapes, so the characters markdown acts on
    become their full-width forms: a title cannot plant a link, a coloured <font> or a heading.
    """
    return text.translate(_MARKDOWN_INERT)


def _check_robot_answer(answer: bytes) -> None:
    """Group robots answer 200 with {"errcode": n}; a non-zero code is a failure."""
    try:
        body = json.loads(answer or b"{}")
    except ValueError:
        return
    if isinstance(body, dict) and body.get("errcode", 0) not in (0, "0"):
        raise DeliveryError(f"webhook refused the message: {body.get('errmsg') or body}")
