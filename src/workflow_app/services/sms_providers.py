"""Adapters for the two common Chinese cloud SMS APIs: Alibaba Cloud (dysmsapi SendSms, RPC style, signature
method HMAC-SHA1 V1.0) and Tencent Cloud (SendSms 2021-01-11, TC3-HMAC-SHA256), over urllib with a timeout.

Each adapter signs the request exactly as its provider documents and turns the provider's answer into what the
dispatcher needs: nothing (sent), `Undeliverable` (the provider refused the number, the template or the
signature: retrying cannot help; the reason carries the provider's code and message) or `DeliveryError`
(throttled, refused credentials, a 5xx, a timeout, anything not known to be final: retried with backoff).
The secret never leaves this module: it keys the HMAC and is in no message, log line or error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from ..config import SmsSettings
from .channels import DeliveryError, Undeliverable, one_line


@dataclass(frozen=True)
class SmsMessage:
    """One text message: a mainland number (11 digits), the approved signature and template, the template's
    parameters in its order, and a reference derived from the notice's idempotency key (the same on a retry)."""

    phone: str
    sign_name: str
    template_id: str
    parameters: tuple[tuple[str, str], ...]
    reference: str


class SmsProvider(Protocol):
    """Sends one message or raises DeliveryError / Undeliverable."""

    name: str

    def send(self, message: SmsMessage) -> None: ...


ALIYUN_REFUSED = frozenset({
    "isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS", "isv.INVALID_JSON_PARAM", "isv.PARAM_LENGTH_LIMIT",
    "isv.PARAM_NOT_SUPPORT_URL", "isv.BLACK_KEY_CONTROL_LIMIT", "isv.DENY_ILLEGAL_SIGNATURE",
    "isv.TEMPLATE_PARAMS_ILLEGAL", "isv.SMS_CONTENT_ILLEGAL"})
"""Alibaba Cloud codes that name a wrong number, template, signature or parameter: parked at once."""
TENCENT_REFUSED = frozenset({
    "InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.PhoneNumberParseFail", "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved", "FailedOperation.ContainSensitiveWord",
    "InvalidParameterValue.TemplateParameterFormatError", "InvalidParameterValue.TemplateParameterLengthLimit",
    "InvalidParameterValue.ContentLengthLimit", "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
    "InvalidParameterValue.SdkAppIdNotExist", "UnsupportedOperation.UnsupportedRegion",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"})
"""Tencent Cloud codes that name a wrong number, template, signature or parameter: parked at once."""


def provider_for(settings: SmsSettings) -> SmsProvider:
    """The adapter of the configured provider."""
    return AliyunSms(settings) if settings.provider == "aliyun" else TencentSms(settings)


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 (A-Z a-z 0-9 - _ . ~ kept; a space is %20), as Alibaba Cloud signs."""
    return quote(value, safe="~")


def aliyun_signature(secret: str, method: str, parameters: Mapping[str, str]) -> str:
    """Signature V1.0 (HMAC-SHA1): the parameters sorted by name, percent-encoded and joined with & and =;
    the string to sign is METHOD&%2F&encode(that); the key is the secret followed by &; base64 of the MAC."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(parameters.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


class AliyunSms:
    """Alibaba Cloud SMS: SendSms (version 2017-05-25) as a signed form POST; OutId carries the reference."""

    name = "aliyun"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def send(self, message: SmsMessage) -> None:
        s = self.settings
        parameters = {
            "AccessKeyId": s.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": s.region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25",
            "PhoneNumbers": message.phone, "SignName": message.sign_name, "TemplateCode": message.template_id,
            "TemplateParam": json.dumps(dict(message.parameters), ensure_ascii=False), "OutId": message.reference}
        parameters["Signature"] = aliyun_signature(s.access_key_secret, "POST", parameters)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in parameters.items()).encode()
        status, answer = _post(self.name, s.endpoint, body,
                               {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, s.timeout)
        code, text = str(answer.get("Code", "")), str(answer.get("Message", ""))
        if status == 200 and code == "OK":
            return
        raise _refusal(self.name, status, code, text, ALIYUN_REFUSED)


def tc3_signing_key(secret: str, date: str, service: str) -> bytes:
    """TC3 key derivation: HMAC-SHA256 chained over the date, the service and "tc3_request"."""
    key = hmac.new(f"TC3{secret}".encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, service.encode(), hashlib.sha256).digest()
    return hmac.new(key, b"tc3_request", hashlib.sha256).digest()


def tc3_authorization(secret_id: str, secret: str, host: str, path: str, content_type: str, payload: bytes,
                      timestamp: int) -> str:
    """The Authorization header of a TC3-HMAC-SHA256 POST signing content-type and host."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    headers = f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n"  # as documented
    canonical = "\n".join(["POST", path, "", headers, "content-type;host",
                           hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/sms/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(tc3_signing_key(secret, date, "sms"), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


class TencentSms:
    """Tencent Cloud SMS: SendSms (version 2021-01-11) as a TC3-signed JSON POST; SessionContext carries the
    reference (the provider returns it with the delivery report)."""

    name = "tencent"
    CONTENT_TYPE = "application/json; charset=utf-8"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def send(self, message: SmsMessage) -> None:
        s = self.settings
        payload = json.dumps({
            "PhoneNumberSet": [f"+86{message.phone}"], "SmsSdkAppId": s.sdk_app_id, "SignName": message.sign_name,
            "TemplateId": message.template_id, "TemplateParamSet": [value for _, value in message.parameters],
            "SessionContext": message.reference}, ensure_ascii=False, separators=(",", ":")).encode()
        parts, timestamp = urlsplit(s.endpoint), int(datetime.now(UTC).timestamp())
        headers = {
            "Content-Type": self.CONTENT_TYPE, "Host": parts.netloc, "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11", "X-TC-Timestamp": str(timestamp), "X-TC-Region": s.region,
            "Authorization": tc3_authorization(s.access_key_id, s.access_key_secret, parts.netloc, parts.path or "/",
                                               self.CONTENT_TYPE, payload, timestamp)}
        status, answer = _post(self.name, s.endpoint, payload, headers, s.timeout)
        response = _mapping(answer.get("Response"))
        error = _mapping(response.get("Error"))
        if not error:  # the request was taken: the number's own status says whether it was sent
            sent = response.get("SendStatusSet")
            error = _mapping(sent[0] if isinstance(sent, list) and sent else None)
            if status == 200 and error.get("Code") == "Ok":
                return
        raise _refusal(self.name, status, str(error.get("Code", "")), str(error.get("Message", "")), TENCENT_REFUSED)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A provider's API answers where it is asked: a redirect is not followed (the signed headers would go to
    another host) but comes back as the 3xx it is, so the send fails and is retried."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _post(provider: str, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, Any]]:
    """POST and return the HTTP status and the JSON answer ({} when there is none); DeliveryError when the
    provider cannot be reached or answers a 5xx."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read(65536)
    except urllib.error.HTTPError as exc:  # 4xx answers carry the provider's code (a refused signature …)
        status, raw = exc.code, exc.read(65536)
        exc.close()
    except OSError as exc:  # refused, unreachable, timed out
        raise DeliveryError(f"{provider} SMS at {url} cannot be reached: {exc}") from exc
    if status >= 500:
        raise DeliveryError(f"{provider} SMS at {url} answered HTTP {status}")
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def _mapping(value: object) -> dict[str, Any]:
    """`value` if the provider's JSON has an object there, else an empty one."""
    return value if isinstance(value, dict) else {}


def _refusal(provider: str, status: int, code: str, message: str, final: frozenset[str]) -> DeliveryError:
    """The error for a provider's refusal: Undeliverable for a code in `final`, else DeliveryError (retried)."""
    reason = f"{provider} SMS refused the message: {one_line(code)[:80] or f'HTTP {status}'}"
    if message:
        reason += f" ({one_line(message)[:200]})"
    return Undeliverable(reason) if code in final else DeliveryError(reason)
