"""Local stand-ins for Alibaba Cloud SMS and Tencent Cloud SMS: HTTP servers on loopback, in a thread, that
check each request's signature the way the provider documents it (recomputed here from the request as
received, with the shared secret; written apart from the app's signing code so an error there shows) and
answer in the provider's documented shapes: sent, throttled, invalid number, unapproved template or signature,
refused credentials.

`throttle` makes the next n well-signed sends answer "throttled"; `delay` slows every answer;
`unknown_numbers` are numbers the provider says are invalid; `approved` maps the approved template ids to
their variables; `sent` keeps every message accepted and `references` the OutId / SessionContext of every
well-signed send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

KEY_ID, SECRET, SIGN_NAME, SDK_APP_ID = "LTAI-test-key", "the-shared-secret", "某区安委办", "1400123456"
APPROVED = {"SMS_100": ("code", "title", "due"), "SMS_200": ("title",), "1001": ("code", "title", "due"),
            "1002": ("title",)}
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


class ProviderServer(ThreadingHTTPServer):
    """One provider's SendSms endpoint."""

    daemon_threads = True

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.secrets = {KEY_ID: SECRET}
        self.approved = dict(APPROVED)
        self.sign_names = {SIGN_NAME}
        self.throttle = 0
        self.delay = 0.0  # seconds each answer takes (the bench's provider latency)
        self.unknown_numbers: set[str] = set()
        self.sent: list[dict] = []
        self.references: list[str] = []
        self.refused_signatures = 0
        self.nonces: set[str] = set()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _AliyunHandler if provider == "aliyun" else _TencentHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/"

    def business(self, phone: str, sign_name: str, template: str, values: list[str] | dict, reference: str
                 ) -> str | None:
        """The provider's verdict on a well-signed send: None (accepted) or a refusal kind."""
        with self.lock:
            self.references.append(reference)
            if sign_name not in self.sign_names:
                return "signature"
            variables = self.approved.get(template)
            given = set(values) if isinstance(values, dict) else len(values)
            if variables is None or given != (set(variables) if isinstance(values, dict) else len(variables)):
                return "template"
            if phone in self.unknown_numbers or not re.fullmatch(r"1\d{10}", phone):
                return "number"
            if self.throttle > 0:
                self.throttle -= 1
                return "throttled"
            self.sent.append({"phone": phone, "sign_name": sign_name, "template": template, "values": values,
                              "reference": reference})
            return None

    def fresh_nonce(self, nonce: str) -> bool:
        with self.lock:
            if nonce in self.nonces:
                return False
            self.nonces.add(nonce)
            return True


def serve(provider: str) -> ProviderServer:
    """A provider's server, serving in a thread until shutdown()."""
    server = ProviderServer(provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Handler(BaseHTTPRequestHandler):
    server: ProviderServer

    def answer(self, status: int, body: dict) -> None:
        time.sleep(self.server.delay)
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _aliyun_encode(text: str) -> str:
    return "".join(c if c in UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


class _AliyunHandler(_Handler):
    """dysmsapi SendSms, RPC style, signature V1.0: HTTP 400/404 for refused credentials, 200 with a Code."""

    REFUSALS = {"signature": ("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名"),
                "template": ("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"),
                "number": ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"),
                "throttled": ("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:10")}

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
        params = dict(parse_qsl(raw, keep_blank_values=True))
        request_id = str(uuid.uuid4()).upper()
        refusal = self.credentials(params)
        if refusal is not None:
            status, code, message = refusal
            self.answer(status, {"RequestId": request_id, "HostId": "dysmsapi.aliyuncs.com", "Code": code,
                                 "Message": message})
            return
        verdict = self.server.business(params.get("PhoneNumbers", ""), params.get("SignName", ""),
                                       params.get("TemplateCode", ""), json.loads(params.get("TemplateParam", "{}")),
                                       params.get("OutId", ""))
        if verdict is None:
            self.answer(200, {"Code": "OK", "Message": "OK", "BizId": f"{time.time_ns()}^0",
                              "RequestId": request_id})
            return
        code, message = self.REFUSALS[verdict]
        self.answer(200, {"Code": code, "Message": message, "RequestId": request_id})

    def credentials(self, params: dict[str, str]) -> tuple[int, str, str] | None:
        if (params.get("Action"), params.get("Version")) != ("SendSms", "2017-05-25"):
            return 400, "InvalidParameter", "Action or Version"
        secret = self.server.secrets.get(params.get("AccessKeyId", ""))
        if secret is None:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        if (params.get("SignatureMethod"), params.get("SignatureVersion")) != ("HMAC-SHA1", "1.0"):
            return 400, "InvalidSignatureMethod", "The signature method is not supported."
        try:
            stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return 400, "MissingTimestamp", "Timestamp is mandatory for this action."
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 15 * 60:
            return 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
        given = params.pop("Signature", "")
        query = "&".join(_aliyun_encode(k) + "=" + _aliyun_encode(v) for k, v in sorted(params.items()))
        to_sign = "POST&" + _aliyun_encode("/") + "&" + _aliyun_encode(query)
        expected = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest())
        if not hmac.compare_digest(expected.decode(), given):
            with self.server.lock:
                self.server.refused_signatures += 1
            return 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        if not self.server.fresh_nonce(params.get("SignatureNonce", "")):
            return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
        return None


_CREDENTIAL = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d\d-\d\d)/(?P<service>[a-z]+)"
                         r"/tc3_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})")


class _TencentHandler(_Handler):
    """SendSms 2021-01-11 with TC3-HMAC-SHA256: always HTTP 200; Response.Error for a refused request,
    Response.SendStatusSet with each number's Code otherwise."""

    ERRORS = {"signature": ("FailedOperation.SignatureIncorrectOrUnapproved", "signature is not approved"),
              "template": ("FailedOperation.TemplateIncorrectOrUnapproved",
                           "template is not approved or request content does not match the approved template "
                           "content")}
    NUMBER = {"number": ("InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number format"),
              "throttled": ("LimitExceeded.PhoneNumberDailyLimit",
                            "the number of SMS messages sent from a single mobile number every day exceeds the "
                            "upper limit")}

    def do_POST(self) -> None:
        payload = self.rfile.read(int(self.headers["Content-Length"]))
        request_id = str(uuid.uuid4())
        refusal = self.credentials(payload)
        if refusal is not None:
            self.answer(200, {"Response": {"Error": {"Code": refusal[0], "Message": refusal[1]},
                                           "RequestId": request_id}})
            return
        body = json.loads(payload)
        numbers = body.get("PhoneNumberSet") or [""]
        if body.get("SmsSdkAppId") != SDK_APP_ID:
            self.answer(200, {"Response": {"Error": {"Code": "InvalidParameterValue.SdkAppIdNotExist",
                                                     "Message": "SdkAppId not exist"}, "RequestId": request_id}})
            return
        verdict = self.server.business(numbers[0].removeprefix("+86"), body.get("SignName", ""),
                                       body.get("TemplateId", ""), body.get("TemplateParamSet") or [],
                                       body.get("SessionContext", ""))
        if verdict in self.ERRORS:
            code, message = self.ERRORS[verdict]
            self.answer(200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}})
            return
        code, message = self.NUMBER.get(verdict or "", ("Ok", "send success"))
        self.answer(200, {"Response": {"SendStatusSet": [{
            "SerialNo": f"5000:{time.time_ns()}", "PhoneNumber": numbers[0], "Fee": 1 if verdict is None else 0,
            "SessionContext": body.get("SessionContext", ""), "Code": code, "Message": message, "IsoCode": "CN"}],
            "RequestId": request_id}})

    def credentials(self, payload: bytes) -> tuple[str, str] | None:
        if (self.headers.get("X-TC-Action"), self.headers.get("X-TC-Version")) != ("SendSms", "2021-01-11"):
            return "InvalidAction", "action or version"
        if not self.headers.get("X-TC-Region"):
            return "MissingParameter", "The request is missing a required parameter `Region`."
        found = _CREDENTIAL.fullmatch(self.headers.get("Authorization", ""))
        if found is None:
            return "AuthFailure.InvalidAuthorization", "Authorization is invalid"
        secret = self.server.secrets.get(found["id"])
        if secret is None:
            return "AuthFailure.SecretIdNotFound", "The SecretId is not found"
        timestamp = int(self.headers.get("X-TC-Timestamp", "0"))
        if abs(time.time() - timestamp) > 300:
            return "AuthFailure.SignatureExpire", "Signature expired."
        signed = found["headers"].split(";")
        if "host" not in signed or "content-type" not in signed:
            return "AuthFailure.InvalidAuthorization", "host and content-type must be signed"
        canonical_headers = "".join(f"{name}:{self.headers.get(name, '').strip().lower()}\n" for name in signed)
        canonical = (f"POST\n{self.path.split('?')[0]}\n\n{canonical_headers}\n{found['headers']}\n"
                     f"{hashlib.sha256(payload).hexdigest()}")
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        scope = f"{date}/{found['service']}/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("TC3" + secret).encode()
        for part in (date, found["service"], "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if found["date"] != date or found["service"] != "sms" or not hmac.compare_digest(expected,
                                                                                         found["signature"]):
            with self.server.lock:
                self.server.refused_signatures += 1
            return ("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check "
                    "your signature is correct.")
        return None
