"""Text messages to the person responsible, through each provider's local server (which checks the request
signature as the provider does): sent through the dispatcher with a valid signature, refused credentials and
throttling retried, a wrong number or an unapproved template parked at once with the reason on 通知, and a
provider outage holding up no other channel."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from hashlib import sha256

import pytest
from conftest import T0
from sms_providers_support import KEY_ID, SDK_APP_ID, SECRET, SIGN_NAME, ProviderServer, serve
from web_support import make_app, sign_in

from workflow_app.config import Settings, SmsSettings, SmsTemplate
from workflow_app.scheduling import channels_from
from workflow_app.services.channels import EmailChannel, Undeliverable
from workflow_app.services.dispatch import dispatch, retry_delay
from workflow_app.services.notices import SUBJECTS
from workflow_app.services.sms import SmsChannel, mainland_mobile
from workflow_app.store.database import transaction
from workflow_app.store.models import Notice, Organisation, User

pytest_plugins = ["notice_support"]  # the mailbox
HAZARD = {"code": "YH-2026-0007", "title": "二号车间配电箱*门 未关闭(A+B)~", "deadline": "2026-11-20",
          "due": "2026-11-20"}  # the title has characters the Alibaba Cloud signature must encode


@pytest.fixture(params=["aliyun", "tencent"])
def provider_server(request: pytest.FixtureRequest) -> Iterator[ProviderServer]:
    """Each provider's local server in turn."""
    server = serve(request.param)
    yield server
    server.shutdown()
    server.server_close()


def _settings(server: ProviderServer, secret: str = SECRET, **changes: object) -> SmsSettings:
    """The channel's settings for `server`: its templates for overdue and the digest are approved, the one
    for escalation is not."""
    return _provider_settings(server.provider, server.url, secret, **changes)


def _provider_settings(provider: str, url: str, secret: str = SECRET, **changes: object) -> SmsSettings:
    ids = {"aliyun": {"overdue": "SMS_100", "escalation": "SMS_999", "digest": "SMS_200"},
           "tencent": {"overdue": "1001", "escalation": "9999", "digest": "1002"}}[provider]
    templates = {kind: SmsTemplate(ids[kind], ("title",) if kind == "digest" else ("code", "title", "due"))
                 for kind in ids}
    settings = SmsSettings(provider=provider, access_key_id=KEY_ID, access_key_secret=secret,
                           sign_name=SIGN_NAME, sdk_app_id=SDK_APP_ID, region="cn-hangzhou", endpoint=url,
                           templates=templates, timeout=2.0, workers=2)
    return replace(settings, **changes)


def _notice(factory, zone, phone: str | None, kind: str = "overdue", n: int = 0, channel: str = "sms") -> int:
    """A pending notice to a new person of the enterprise whose phone is `phone` (on "sms"), or to the
    enterprise (other channels)."""
    with transaction(factory) as s:
        person = None
        if channel == "sms":
            person = User(username=f"person{n}", display_name=f"责任人{n}", role="enterprise", phone=phone,
                          organisation_id=zone.enterprise_id, password_hash="-")
            s.add(person)
            s.flush()
        notice = Notice(idempotency_key=f"timer:1:{kind}:{n}:{channel}", channel=channel, kind=kind,
                        recipient_org_id=zone.enterprise_id, recipient_user_id=person.id if person else None,
                        subject=SUBJECTS[kind].format(**HAZARD), body="逾期", created_at=T0, status="pending")
        s.add(notice)
        s.flush()
        return notice.id


def _state(factory, notice_id: int) -> tuple[str, int, str | None]:
    with transaction(factory) as s:
        notice = s.get(Notice, notice_id)
        return notice.status, notice.attempts, notice.last_error


def test_a_notice_reaches_the_persons_mobile_through_the_dispatcher_with_a_valid_signature(
        factory, zone, provider_server, caplog):
    caplog.set_level(logging.DEBUG)
    notice_id = _notice(factory, zone, "+86 138-0013-8000")
    report = dispatch(factory, {"sms": SmsChannel(_settings(provider_server))}, T0)
    assert report.sent == [notice_id] and provider_server.refused_signatures == 0
    [message] = provider_server.sent
    values = ["YH-2026-0007", HAZARD["title"], "2026-11-20"]
    assert message == {
        "phone": "13800138000", "sign_name": SIGN_NAME,
        "template": "SMS_100" if provider_server.provider == "aliyun" else "1001",
        "values": dict(zip(("code", "title", "due"), values, strict=True))
        if provider_server.provider == "aliyun" else values,
        "reference": sha256(b"timer:1:overdue:0:sms").hexdigest()[:32]}
    assert _state(factory, notice_id) == ("sent", 1, None)
    assert SECRET not in caplog.text


def test_a_digest_fills_a_title_only_template_and_a_template_asking_for_more_is_parked(factory, zone,
                                                                                       provider_server):
    with transaction(factory) as s:
        person = s.get(User, zone.safety_officer.id)
        person.phone = "13800138000"
        digests = [Notice(idempotency_key=f"digest:2026-11-02:{person.id}:{n}:sms", channel="sms", kind=kind,
                          recipient_org_id=zone.enterprise_id, recipient_user_id=person.id,
                          subject="每日待办：今日到期 2 项，逾期 1 项，待验收 3 项", body="…", created_at=T0,
                          status="pending") for n, kind in enumerate(("digest", "digest_detailed"))]
        s.add_all(digests)
    settings = _settings(provider_server)
    detailed = replace(settings.templates["digest"], parameters=("code", "title"))
    settings = replace(settings, templates={**settings.templates, "digest_detailed": detailed})
    report = dispatch(factory, {"sms": SmsChannel(settings)}, T0)
    [message] = provider_server.sent
    assert message["values"] in ({"title": "每日待办：今日到期 2 项，逾期 1 …"}, ["每日待办：今日到期 2 项，逾期 1 …"])
    assert len(report.sent) == 1 and len(report.parked) == 1
    assert "takes code, which this notice does not carry" in _state(factory, report.parked[0])[2]


def test_a_wrong_secret_is_refused_by_the_provider_and_retried_later(factory, zone, provider_server, caplog):
    notice_id = _notice(factory, zone, "13800138000")
    report = dispatch(factory, {"sms": SmsChannel(_settings(provider_server, secret="an-old-secret"))}, T0)
    status, attempts, error = _state(factory, notice_id)
    assert report.retrying == [notice_id] and (status, attempts) == ("pending", 1)
    assert provider_server.refused_signatures == 1 and provider_server.sent == []
    assert ("SignatureDoesNotMatch" if provider_server.provider == "aliyun" else "AuthFailure.SignatureFailure") \
        in error
    assert "an-old-secret" not in error + caplog.text  # the secret is in no error and no log line
    later = T0 + retry_delay(1) + timedelta(seconds=10)  # the run's clock ran on during the send
    assert dispatch(factory, {"sms": SmsChannel(_settings(provider_server))}, later).sent == [notice_id]
    assert _state(factory, notice_id)[:2] == ("sent", 2)


def test_throttled_by_the_provider_is_retried_with_the_same_reference_then_sent(factory, zone, provider_server):
    notice_id = _notice(factory, zone, "13800138000")
    provider_server.throttle = 1
    channels = {"sms": SmsChannel(_settings(provider_server))}
    assert dispatch(factory, channels, T0).retrying == [notice_id]
    status, attempts, error = _state(factory, notice_id)
    assert (status, attempts) == ("pending", 1)
    assert ("isv.BUSINESS_LIMIT_CONTROL" if provider_server.provider == "aliyun"
            else "LimitExceeded.PhoneNumberDailyLimit") in error
    assert dispatch(factory, channels, T0 + timedelta(seconds=30)).sent == []  # not before its backoff
    assert dispatch(factory, channels, T0 + retry_delay(1) + timedelta(seconds=10)).sent == [notice_id]
    first, second = provider_server.references
    assert first == second and len(provider_server.sent) == 1  # the provider can tell the retry for what it is


def test_a_wrong_number_or_an_unapproved_template_parks_at_once_with_the_reason_on_the_notices_page(
        factory, zone, provider_server, tmp_path):
    provider_server.unknown_numbers.add("13900000000")
    refused_number = _notice(factory, zone, "13900000000", n=1)
    unapproved = _notice(factory, zone, "13800138000", kind="escalation", n=2)
    no_template = _notice(factory, zone, "13800138000", kind="verify_overdue", n=3)
    report = dispatch(factory, {"sms": SmsChannel(_settings(provider_server))}, T0)
    assert sorted(report.parked) == [refused_number, unapproved, no_template] and provider_server.sent == []
    reasons = {n: _state(factory, n) for n in (refused_number, unapproved, no_template)}
    aliyun = provider_server.provider == "aliyun"
    expected = {refused_number: "isv.MOBILE_NUMBER_ILLEGAL" if aliyun else "InvalidParameterValue.IncorrectPhoneNumber",
                unapproved: "isv.SMS_TEMPLATE_ILLEGAL" if aliyun else "FailedOperation.TemplateIncorrectOrUnapproved",
                no_template: "no approved SMS template for kind 'verify_overdue'"}
    for notice_id, (status, attempts, error) in reasons.items():
        assert (status, attempts) == ("parked", 1) and expected[notice_id] in error
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "office")
    page = client.get("/notices").get_data(as_text=True)
    assert all(code.replace("'", "&#39;") in page for code in expected.values())


def test_a_person_without_a_valid_mainland_mobile_is_parked_before_any_request(factory, zone):
    phones = {None: "has no mobile phone number", "  ": "has no mobile phone number",
              "12345": "is not a mainland mobile number", "12800138000": "is not a mainland mobile number",
              "010-6512 3456": "is not a mainland mobile number", "+1 415 555 0100": "is not a mainland mobile number",
              "13800138000\n<script>": "is not a mainland mobile number"}
    notices = {_notice(factory, zone, phone, n=n): reason for n, (phone, reason) in enumerate(phones.items())}
    nowhere = _provider_settings("aliyun", "http://127.0.0.1:9/")  # no request is made: nothing listens there
    report = dispatch(factory, {"sms": SmsChannel(nowhere)}, T0)
    assert sorted(report.parked) == sorted(notices)
    for notice_id, reason in notices.items():
        status, attempts, error = _state(factory, notice_id)
        assert (status, attempts) == ("parked", 1) and reason in error and "<script>" not in error


def test_mainland_numbers_are_read_with_or_without_the_country_code_and_separators():
    for written in ("13800138000", "+8613800138000", "0086 138 0013 8000", "138-0013-8000", "(+86) 13800138000"):
        assert mainland_mobile(User(display_name="某人", phone=written)) == "13800138000"
    with pytest.raises(Undeliverable, match="某人's phone number is not a mainland mobile number"):
        mainland_mobile(User(display_name="某人", phone="+86 1380013800"))


def test_a_provider_outage_holds_up_neither_email_nor_the_in_app_notices(factory, zone, mailbox, provider_server):
    box, port = mailbox
    with socket.socket() as silent:  # the provider accepts connections but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        sms = _notice(factory, zone, "13800138000")
        with transaction(factory) as s:
            s.get(Organisation, zone.enterprise_id).email = "safety@e1.example"
        emails = [_notice(factory, zone, None, n=n, channel="email") for n in range(1, 4)]
        down = _settings(provider_server, endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=1.0)
        channels = {"email": EmailChannel(replace(Settings.from_env({}).smtp, host="127.0.0.1", port=port,
                                                  security="none")), "sms": SmsChannel(down)}
        report = dispatch(factory, channels, T0)
    assert sorted(report.sent) == emails and report.retrying == [sms] and len(box.messages) == 3
    status, attempts, error = _state(factory, sms)
    assert (status, attempts) == ("pending", 1) and "cannot be reached" in error


def test_an_sms_left_over_after_the_provider_was_unset_is_parked_saying_so(factory, zone):
    left_over = _notice(factory, zone, "13800138000")
    unset = Settings.from_env({})
    assert not unset.sms.enabled  # the recipients queue no SMS then
    report = dispatch(factory, channels_from(unset), T0)
    assert report.parked == [left_over]
    status, attempts, error = _state(factory, left_over)
    assert (status, attempts) == ("parked", 1) and "SMS is not configured" in error


def test_sms_is_configured_from_the_environment_only(tmp_path):
    (tmp_path / "templates").write_text(
        "# approved on 2026-11-01\noverdue = SMS_1234\nescalation=SMS_5678:code+title\n", encoding="utf-8")
    environ = {"WORKFLOW_APP_SMS_PROVIDER": "aliyun", "WORKFLOW_APP_SMS_ACCESS_KEY_ID": "LTAI5t",
               "WORKFLOW_APP_SMS_ACCESS_KEY_SECRET": "s3cret-value", "WORKFLOW_APP_SMS_SIGN_NAME": "某区安委办",
               "WORKFLOW_APP_SMS_TEMPLATES": str(tmp_path / "templates"), "WORKFLOW_APP_DISPATCH_SMS_WORKERS": "3"}
    settings = Settings.from_env(environ)
    assert settings.sms.enabled and channels_from(settings)["sms"].workers == 3
    assert settings.sms.templates == {"overdue": SmsTemplate("SMS_1234", ("code", "title", "due")),
                                      "escalation": SmsTemplate("SMS_5678", ("code", "title"))}
    assert settings.sms.endpoint == "https://dysmsapi.aliyuncs.com/" and "s3cret-value" not in repr(settings)
    inline = Settings.from_env({**environ, "WORKFLOW_APP_SMS_TEMPLATES": "overdue=SMS_1,digest=SMS_2:title"})
    assert inline.sms.templates["digest"] == SmsTemplate("SMS_2", ("title",))
    for changes, message in [
            ({"WORKFLOW_APP_SMS_PROVIDER": "yunpian"}, "must be one of aliyun, tencent"),
            ({"WORKFLOW_APP_SMS_ACCESS_KEY_SECRET": ""}, "set WORKFLOW_APP_SMS_ACCESS_KEY_SECRET too"),
            ({"WORKFLOW_APP_SMS_PROVIDER": "tencent"}, "set WORKFLOW_APP_SMS_SDK_APP_ID too"),
            ({"WORKFLOW_APP_SMS_ENDPOINT": "http://sms.example.internal/"}, "must be an https:// address"),
            ({"WORKFLOW_APP_SMS_TEMPLATES": "overdue=SMS 1"}, "'overdue=SMS 1' is not kind=TEMPLATE_ID"),
            ({"WORKFLOW_APP_SMS_TEMPLATES": "overdue=SMS_1:phone"}, "asks for phone"),
            ({"WORKFLOW_APP_SMS_TEMPLATES": str(tmp_path / "missing")}, "cannot read the file"),
            ({"WORKFLOW_APP_DISPATCH_SMS_WORKERS": "0"}, "WORKFLOW_APP_DISPATCH_SMS_WORKERS must be a whole number")]:
        with pytest.raises(ValueError, match=message):
            Settings.from_env({**environ, **changes})
