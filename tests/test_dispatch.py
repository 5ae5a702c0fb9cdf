"""Several dispatchers on one outbox, a slow webhook: every notice is delivered exactly once,
a slow channel does not hold up the others, and an e-mail's Message-ID is stable."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from hashlib import sha256

import pytest
from conftest import T0
from sqlalchemy import func, select

from workflow_app.config import Settings, SmtpSettings
from workflow_app.scheduling import channels_from
from workflow_app.services.channels import EmailChannel, WebhookChannel
from workflow_app.services.dispatch import dispatch
from workflow_app.store.database import transaction
from workflow_app.store.models import Notice, Organisation, User

pytest_plugins = ["notice_support"]  # the mailbox and receiver fixtures
TIMEOUT = 2.0  # the webhook's timeout in these tests: a fast answer (50 ms) fits even on a busy machine
SLOW = 2 * WebhookChannel(timeout=TIMEOUT).longest_send.total_seconds() + 1  # longer than a webhook's lease


def _pending(factory, zone, url: str, per_channel: int, channels: tuple[str, ...] = ("webhook", "email")) -> None:
    """`per_channel` pending notices per channel to the enterprise, webhook ones first."""
    with transaction(factory) as s:
        enterprise = s.get(Organisation, zone.enterprise_id)
        enterprise.email, enterprise.webhook_url = "safety@e1.example", url
        s.add_all([Notice(idempotency_key=f"test:{n}:{channel}", channel=channel, kind="overdue",
                          recipient_org_id=zone.enterprise_id, subject=f"隐患整改已逾期 {n}", body="逾期",
                          created_at=T0, status="pending")
                   for channel in channels for n in range(per_channel)])


def _channels(smtp_port: int) -> dict:
    return {"email": EmailChannel(SmtpSettings(host="127.0.0.1", port=smtp_port, security="none",
                                               sender="yh@zone.example")),
            "webhook": WebhookChannel(timeout=TIMEOUT)}


def _dispatcher(factory, channels: dict, started: float, until: float, errors: list) -> None:
    """A scheduler's dispatch job, run again and again at the current time until nothing is left to send."""
    try:
        while time.monotonic() < until:
            dispatch(factory, channels, T0 + timedelta(seconds=time.monotonic() - started))
            with transaction(factory) as s:
                if not s.scalar(select(func.count(Notice.id)).where(Notice.status == "pending",
                                                                    Notice.attempts == 0)):
                    return
    except Exception as exc:  # reported by the test
        errors.append(exc)


def test_two_dispatchers_deliver_every_notice_once_though_the_webhook_is_slower_than_the_lease(
        factory, zone, mailbox, receiver):
    box, port = mailbox
    _pending(factory, zone, receiver.url, 40)
    slow = {f"test:{n}:webhook" for n in range(0, 40, 8)}
    receiver.pause = lambda body: time.sleep(SLOW if body["idempotency_key"] in slow else 0.05)
    started, errors = time.monotonic(), []
    threads = [threading.Thread(target=_dispatcher, args=(factory, _channels(port), started, started + 60, errors))
               for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    assert errors == []
    webhooks = Counter(body["idempotency_key"] for body in receiver.bodies)
    mails = Counter(str(message["X-Idempotency-Key"]) for message in box.messages)
    assert (len(webhooks), len(mails)) == (40, 40)
    assert [key for key, times in (webhooks + mails).items() if times > 1] == []
    with transaction(factory) as s:
        notices = list(s.scalars(select(Notice)))
    assert {(n.idempotency_key in slow, n.status, n.attempts) for n in notices} == {
        (False, "sent", 1), (True, "pending", 1)}  # the slow ones timed out: retried later, not lost or doubled


def test_a_slow_webhook_does_not_hold_up_email(factory, zone, mailbox, receiver):
    box, port = mailbox
    _pending(factory, zone, receiver.url, 4)
    every_mail_in, mail_first = threading.Event(), []
    box.on_message = lambda: len(box.messages) == 4 and every_mail_in.set()
    receiver.pause = lambda body: mail_first.append(every_mail_in.wait(timeout=3))
    channels = {**_channels(port), "webhook": WebhookChannel(timeout=5)}
    report = dispatch(factory, channels, T0)
    assert len(report.sent) == 8 and len(box.messages) == 4
    assert mail_first and all(mail_first)  # every e-mail was out while the first webhook was still waiting


def test_an_email_sent_twice_carries_the_same_message_id_derived_from_the_notice_key(factory, zone, mailbox):
    box, port = mailbox
    _pending(factory, zone, "", 1, ("email",))
    with transaction(factory) as s:
        notice = s.scalars(select(Notice)).one()
        recipient = s.get(Organisation, zone.enterprise_id)
    channel = _channels(port)["email"]
    channel.send(notice, recipient)
    channel.send(notice, recipient)  # a retry whose first copy arrived but whose acknowledgement was lost
    first, second = (message["Message-ID"] for message in box.messages)
    assert first == second == f"<{sha256(b'test:0:email').hexdigest()[:32]}@zone.example>"




def test_a_personal_email_goes_to_the_person_and_one_without_an_address_is_parked_at_once(factory, zone, mailbox):
    box, port = mailbox
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).email = "safety@e1.example"
        s.get(User, zone.principal.id).email = "boss@e1.example"
        s.get(User, zone.safety_officer.id).email = None
        s.add_all([Notice(idempotency_key=f"test:u{user.id}:email", channel="email", kind="overdue",
                          recipient_org_id=zone.enterprise_id, recipient_user_id=user.id, subject="隐患整改已逾期",
                          body="逾期", created_at=T0, status="pending")
                   for user in (zone.principal, zone.safety_officer)])
    report = dispatch(factory, _channels(port), T0)
    assert [message["To"] for message in box.messages] == ["boss@e1.example"]
    assert len(report.sent) == 1 and len(report.parked) == 1  # parked at the first attempt: retrying cannot help
    with transaction(factory) as s:
        parked = s.scalars(select(Notice).where(Notice.status == "parked")).one()
        assert (parked.recipient_user_id, parked.attempts) == (zone.safety_officer.id, 1)
        assert "has no e-mail address" in parked.last_error


def test_a_dispatcher_whose_lease_was_taken_over_during_a_send_does_not_count_it(factory, zone, receiver, caplog):
    _pending(factory, zone, receiver.url, 1, ("webhook",))
    later: list = []

    def take_over(body: dict) -> None:  # while the first send waits, a dispatcher whose clock jumped an hour
        if not later:
            later.append("taking over")
            later.append(dispatch(factory, {"webhook": WebhookChannel(timeout=5)}, T0 + timedelta(hours=1)))

    receiver.pause = take_over
    first = dispatch(factory, {"webhook": WebhookChannel(timeout=5)}, T0)
    assert later[1].sent != [] and first.sent == []  # only the holder of the lease counts the notice
    with transaction(factory) as s:
        notice = s.scalars(select(Notice)).one()
    assert (notice.status, notice.attempts, notice.leased_by) == ("sent", 1, None)
    assert "lease was taken over" in caplog.text


def test_a_dispatcher_asked_to_stop_finishes_the_notice_it_is_on_and_claims_no_more(factory, zone, receiver):
    _pending(factory, zone, receiver.url, 3, ("webhook",))
    stop = threading.Event()
    receiver.pause = lambda body: stop.set()  # SIGTERM arrives while the first notice is being sent
    report = dispatch(factory, {"webhook": WebhookChannel(timeout=5, workers=1)}, T0, should_stop=stop.is_set)
    with transaction(factory) as s:
        states = [(n.status, n.attempts, n.lease_until) for n in s.scalars(select(Notice).order_by(Notice.id))]
    assert len(report.sent) == 1 and len(receiver.bodies) == 1
    assert states == [("sent", 1, None), ("pending", 0, None), ("pending", 0, None)]

def test_the_scheduler_sends_with_the_configured_workers_and_refuses_a_count_below_one():
    settings = Settings.from_env({"WORKFLOW_APP_DISPATCH_WEBHOOK_WORKERS": "8",
                                  "WORKFLOW_APP_DISPATCH_EMAIL_WORKERS": "1"})
    channels = channels_from(settings)
    assert (channels["webhook"].workers, channels["email"].workers) == (8, 1)
    assert (Settings.from_env({}).dispatch_webhook_workers, Settings.from_env({}).dispatch_email_workers) == (4, 2)
    for bad in ("0", "-1", "two"):
        with pytest.raises(ValueError, match="WORKFLOW_APP_DISPATCH_EMAIL_WORKERS must be a whole number"):
            Settings.from_env({"WORKFLOW_APP_DISPATCH_EMAIL_WORKERS": bad})
