"""Every setting, read from the environment with its default and a one-line meaning."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send e-mail (WORKFLOW_APP_SMTP_*)."""

    host: str
    port: int = 25
    security: str = "starttls"  # starttls | ssl | none
    username: str | None = None
    password: str | None = None
    sender: str = "hazard-loop@localhost"
    timeout: float = 15.0


@dataclass(frozen=True)
class OidcSettings:
    """Single sign-on through one OpenID Connect provider (WORKFLOW_APP_OIDC_*); one issuer per deployment."""

    issuer: str
    """WORKFLOW_APP_OIDC_ISSUER: the provider's issuer URL (its discovery document is under it); https, or http
    on the loopback address only (a provider on the same host)."""
    client_id: str
    """WORKFLOW_APP_OIDC_CLIENT_ID: this app's client id at the provider."""
    client_secret: str
    """WORKFLOW_APP_OIDC_CLIENT_SECRET: this app's client secret; from the environment only, never committed."""
    scopes: str = "openid"
    """WORKFLOW_APP_OIDC_SCOPES: the scopes asked for, space-separated; openid is always among them."""
    timeout: float = 10.0
    """Seconds each call to the provider (discovery, keys, token) may take before sign-in says it is unreachable."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OidcSettings | None:
        """The settings, None when no issuer is set; ValueError when they are incomplete or not safe."""
        issuer = environ.get("WORKFLOW_APP_OIDC_ISSUER", "").strip()  # as the provider spells it: a trailing / counts
        if not issuer:
            return None
        client_id = environ.get("WORKFLOW_APP_OIDC_CLIENT_ID", "").strip()
        client_secret = environ.get("WORKFLOW_APP_OIDC_CLIENT_SECRET", "")
        if not client_id or not client_secret:
            raise ValueError("WORKFLOW_APP_OIDC_ISSUER is set: set WORKFLOW_APP_OIDC_CLIENT_ID and "
                             "WORKFLOW_APP_OIDC_CLIENT_SECRET too")
        parts = urlsplit(issuer)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")
        if not (parts.scheme == "https" or loopback) or not parts.hostname:
            raise ValueError("WORKFLOW_APP_OIDC_ISSUER must be an https:// URL")
        scopes = environ.get("WORKFLOW_APP_OIDC_SCOPES", "openid").split()
        return cls(issuer, client_id, client_secret, " ".join(dict.fromkeys(["openid", *scopes])))


SMS_PROVIDERS = ("aliyun", "tencent")
SMS_ENDPOINTS = {"aliyun": "https://dysmsapi.aliyuncs.com/", "tencent": "https://sms.tencentcloudapi.com/"}
SMS_REGIONS = {"aliyun": "cn-hangzhou", "tencent": "ap-guangzhou"}


@dataclass(frozen=True)
class SmsTemplate:
    """One approved SMS template: the provider's template id and the parameters it takes, in order."""

    template_id: str
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class SmsSettings:
    """Text messages through one Chinese cloud SMS provider (WORKFLOW_APP_SMS_*); off while no provider is set."""

    provider: str = ""
    """WORKFLOW_APP_SMS_PROVIDER: aliyun | tencent; unset, no SMS is sent (and none should be queued)."""
    access_key_id: str = ""
    """WORKFLOW_APP_SMS_ACCESS_KEY_ID: the AccessKey ID (Aliyun) or SecretId (Tencent)."""
    access_key_secret: str = field(default="", repr=False)
    """WORKFLOW_APP_SMS_ACCESS_KEY_SECRET: the AccessKey secret / SecretKey; from the environment only, never
    logged or shown."""
    sign_name: str = ""
    """WORKFLOW_APP_SMS_SIGN_NAME: the approved signature (签名), e.g. 某某区安委办."""
    sdk_app_id: str = ""
    """WORKFLOW_APP_SMS_SDK_APP_ID: Tencent's SmsSdkAppId (required for tencent)."""
    region: str = ""
    """WORKFLOW_APP_SMS_REGION: cn-hangzhou (Aliyun) / ap-guangzhou (Tencent) unless set."""
    endpoint: str = ""
    """WORKFLOW_APP_SMS_ENDPOINT: the API address; the provider's public one unless set (a private cloud's);
    https, or http on the loopback address only."""
    templates: dict[str, SmsTemplate] = field(default_factory=dict)
    """WORKFLOW_APP_SMS_TEMPLATES: `kind=TEMPLATE_ID[:param+param…]` entries, separated by commas or lines, or
    the path of a file holding them; kinds without one are parked with that reason."""
    timeout: float = 10.0
    """WORKFLOW_APP_SMS_TIMEOUT: seconds one request to the provider may take (connect, send, answer)."""
    workers: int = 4
    """WORKFLOW_APP_DISPATCH_SMS_WORKERS: text messages one scheduler process sends at once (≥ 1)."""

    @property
    def enabled(self) -> bool:
        """Whether SMS notices are sent (so whether personal notices should be queued on the "sms" channel)."""
        return bool(self.provider)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmsSettings:
        """The settings; ValueError naming the setting when a provider is set but the rest is incomplete or
        unsafe."""
        workers = _at_least_one(environ, "WORKFLOW_APP_DISPATCH_SMS_WORKERS", 4)
        provider = environ.get("WORKFLOW_APP_SMS_PROVIDER", "").strip().lower()
        if not provider:
            return cls(workers=workers)
        if provider not in SMS_PROVIDERS:
            raise ValueError(f"WORKFLOW_APP_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}, not {provider!r}")
        values = {name: environ.get(f"WORKFLOW_APP_SMS_{name.upper()}", "").strip()
                  for name in ("access_key_id", "access_key_secret", "sign_name", "sdk_app_id")}
        needed = ["access_key_id", "access_key_secret", "sign_name"] + (["sdk_app_id"] if provider == "tencent" else [])
        missing = [f"WORKFLOW_APP_SMS_{name.upper()}" for name in needed if not values[name]]
        if missing:
            raise ValueError(f"WORKFLOW_APP_SMS_PROVIDER is {provider}: set {', '.join(missing)} too")
        timeout = float(environ.get("WORKFLOW_APP_SMS_TIMEOUT", "10"))
        if not 0 < timeout <= 60:
            raise ValueError("WORKFLOW_APP_SMS_TIMEOUT must be between 0 and 60 seconds")
        return cls(provider=provider, **values, region=environ.get("WORKFLOW_APP_SMS_REGION", "").strip()
                   or SMS_REGIONS[provider],
                   endpoint=_sms_endpoint(environ.get("WORKFLOW_APP_SMS_ENDPOINT", "").strip()
                                          or SMS_ENDPOINTS[provider]),
                   templates=sms_templates(environ.get("WORKFLOW_APP_SMS_TEMPLATES", "")),
                   timeout=timeout, workers=workers)


_TEMPLATE_ENTRY = re.compile(r"(?P<kind>[a-z][a-z0-9_]{0,39})\s*=\s*(?P<id>[A-Za-z0-9_-]{1,64})"
                             r"(?::(?P<parameters>[a-z_]+(?:\+[a-z_]+)*))?")
SMS_PARAMETERS = ("code", "title", "due")
"""What a template may ask for: the hazard's code, its title (shortened), the due date of the step."""


def sms_templates(raw: str) -> dict[str, SmsTemplate]:
    """WORKFLOW_APP_SMS_TEMPLATES: `overdue=SMS_1234,escalation=SMS_5678:code+title` (or a file of such lines,
    `#` comments allowed); a template takes code+title+due unless it names its parameters.
    ValueError naming the entry that is not understood."""
    text = raw.strip()
    if text and not any(sign in text for sign in "=,\n"):
        try:
            text = Path(text).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"WORKFLOW_APP_SMS_TEMPLATES: cannot read the file {text!r}: {exc.strerror}") from exc
    templates: dict[str, SmsTemplate] = {}
    for entry in re.split(r"[,\n]", text):
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        found = _TEMPLATE_ENTRY.fullmatch(entry)
        if found is None:
            raise ValueError(f"WORKFLOW_APP_SMS_TEMPLATES: {entry!r} is not kind=TEMPLATE_ID[:param+param]")
        parameters = tuple((found["parameters"] or "+".join(SMS_PARAMETERS)).split("+"))
        unknown = [p for p in parameters if p not in SMS_PARAMETERS]
        if unknown:
            raise ValueError(f"WORKFLOW_APP_SMS_TEMPLATES: {entry!r} asks for {', '.join(unknown)}; "
                             f"a template may take {', '.join(SMS_PARAMETERS)}")
        templates[found["kind"]] = SmsTemplate(found["id"], parameters)
    return templates


def _sms_endpoint(raw: str) -> str:
    """The provider's address: https, or http on the loopback address (a local or test server)."""
    parts = urlsplit(raw)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")
    if not (parts.scheme == "https" or loopback) or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"WORKFLOW_APP_SMS_ENDPOINT must be an https:// address, not {raw!r}")
    return raw if parts.path else raw + "/"


@dataclass(frozen=True)
class DatabaseLimits:
    """How long anything waits for the database (WORKFLOW_APP_DB_*), in seconds; 0 means no limit."""

    connect: float = 5.0
    """WORKFLOW_APP_DB_CONNECT_TIMEOUT: opening a connection (PostgreSQL; psycopg counts at least 2 s)."""
    statement: float = 30.0
    """WORKFLOW_APP_DB_STATEMENT_TIMEOUT: one statement (PostgreSQL statement_timeout; a statement the server does
    not answer at all is cut off 2 s later by the client); on SQLite how long a writer waits for the lock."""
    pool: float = 5.0
    """WORKFLOW_APP_DB_POOL_TIMEOUT: waiting for a free connection of the pool when every one is busy."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DatabaseLimits:
        return cls(connect=float(environ.get("WORKFLOW_APP_DB_CONNECT_TIMEOUT", "5")),
                   statement=float(environ.get("WORKFLOW_APP_DB_STATEMENT_TIMEOUT", "30")),
                   pool=float(environ.get("WORKFLOW_APP_DB_POOL_TIMEOUT", "5")))


@dataclass(frozen=True)
class Settings:
    """Application settings."""

    database_url: str
    """WORKFLOW_APP_DATABASE_URL: SQLAlchemy URL; default a SQLite file under ./instance/."""
    secret_key: str | None
    """WORKFLOW_APP_SECRET_KEY: signs session cookies; required to serve, never committed."""
    bpmn_dir: Path
    """WORKFLOW_APP_BPMN_DIR: the process models deployed by init-db; default ./bpmn of the project."""
    instance_dir: Path
    """WORKFLOW_APP_INSTANCE_DIR: evidence photos and compiled translations; default ./instance."""
    secure_cookies: bool
    """WORKFLOW_APP_SECURE_COOKIES: 1 to send cookies over HTTPS only (set it behind TLS)."""
    sweep_seconds: int = 60
    """WORKFLOW_APP_SWEEP_SECONDS: how often timers are swept and notices dispatched."""
    scheduler_in_serve: bool = True
    """WORKFLOW_APP_SCHEDULER: 0 to run no scheduler inside `serve` (run `workflow-app scheduler` instead)."""
    proxy_hops: int = 0
    """WORKFLOW_APP_PROXY_HOPS: reverse proxies in front of the app (nginx: 1); their X-Forwarded-For/-Proto are
    trusted that many hops deep, so sign-in and report limits count real client addresses. 0 trusts none."""
    audit_key: str | None = None
    """WORKFLOW_APP_AUDIT_KEY: keys the audit log's hash chain (HMAC); keep it outside the database and its
    backups, the same in every process. Without it the chain is plain SHA-256, which a database writer can redo."""
    audit_checkpoint_dir: Path | None = None
    """WORKFLOW_APP_AUDIT_CHECKPOINT_DIR: where audit checkpoints are written, outside the database (ideally
    another machine's mount); default <instance>/audit-checkpoints."""
    dispatch_webhook_workers: int = 4
    """WORKFLOW_APP_DISPATCH_WEBHOOK_WORKERS: webhook notices one scheduler process sends at once (≥ 1)."""
    dispatch_email_workers: int = 2
    """WORKFLOW_APP_DISPATCH_EMAIL_WORKERS: e-mails one scheduler process sends at once (≥ 1); each is one SMTP
    connection, so keep it within what the mail server allows per client."""
    notice_daily_cap: int = 20
    """WORKFLOW_APP_NOTICE_DAILY_CAP: personal e-mails and SMS one person is sent per Shanghai day; the rest are held
    for their daily digest."""
    smtp: SmtpSettings = field(default_factory=lambda: SmtpSettings(host=""))
    """WORKFLOW_APP_SMTP_HOST, _PORT, _SECURITY (starttls|ssl|none), _USERNAME, _PASSWORD, _SENDER."""
    sms: SmsSettings = field(default_factory=SmsSettings)
    """WORKFLOW_APP_SMS_PROVIDER, _ACCESS_KEY_ID, _ACCESS_KEY_SECRET, _SIGN_NAME, _SDK_APP_ID, _REGION, _ENDPOINT,
    _TEMPLATES, _TIMEOUT and WORKFLOW_APP_DISPATCH_SMS_WORKERS (see SmsSettings); off while no provider is set."""
    oidc: OidcSettings | None = None
    """WORKFLOW_APP_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _SCOPES: single sign-on, off while no issuer is set."""
    database_limits: DatabaseLimits = field(default_factory=DatabaseLimits)
    """WORKFLOW_APP_DB_CONNECT_TIMEOUT, _STATEMENT_TIMEOUT, _POOL_TIMEOUT (see DatabaseLimits)."""
    metrics_token: str | None = None
    """WORKFLOW_APP_METRICS_TOKEN: the bearer token /metrics asks for; unset, only this host (loopback) may read it."""
    max_model_bytes: int = 5 * 1024 * 1024
    """WORKFLOW_APP_MAX_MODEL_BYTES: the largest BPMN file `deploy` and the web's model upload accept (bytes)."""
    base_url: str | None = None
    """WORKFLOW_APP_BASE_URL: the product's external address (https://hazards.example.gov.cn), printed and put in
    the QR code of documents so a paper copy leads to its record; unset, the address the request came in on."""

    @property
    def checkpoint_dir(self) -> Path:
        """Where audit checkpoints go."""
        return self.audit_checkpoint_dir or self.instance_dir / "audit-checkpoints"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings from `environ`."""
        default_db = f"sqlite:///{Path.cwd() / 'instance' / 'workflow_app.db'}"
        return cls(
            database_url=environ.get("WORKFLOW_APP_DATABASE_URL", default_db),
            secret_key=environ.get("WORKFLOW_APP_SECRET_KEY"),
            bpmn_dir=Path(environ.get("WORKFLOW_APP_BPMN_DIR", PROJECT_ROOT / "bpmn")),
            instance_dir=Path(environ.get("WORKFLOW_APP_INSTANCE_DIR", Path.cwd() / "instance")).resolve(),
            secure_cookies=environ.get("WORKFLOW_APP_SECURE_COOKIES", "") in ("1", "true", "yes"),
            sweep_seconds=int(environ.get("WORKFLOW_APP_SWEEP_SECONDS", "60")),
            scheduler_in_serve=environ.get("WORKFLOW_APP_SCHEDULER", "1") not in ("0", "false", "no"),
            proxy_hops=int(environ.get("WORKFLOW_APP_PROXY_HOPS", "0")),
            audit_key=environ.get("WORKFLOW_APP_AUDIT_KEY") or None,
            audit_checkpoint_dir=Path(environ["WORKFLOW_APP_AUDIT_CHECKPOINT_DIR"])
            if environ.get("WORKFLOW_APP_AUDIT_CHECKPOINT_DIR") else None,
            dispatch_webhook_workers=_at_least_one(environ, "WORKFLOW_APP_DISPATCH_WEBHOOK_WORKERS", 4),
            dispatch_email_workers=_at_least_one(environ, "WORKFLOW_APP_DISPATCH_EMAIL_WORKERS", 2),
            notice_daily_cap=_at_least_one(environ, "WORKFLOW_APP_NOTICE_DAILY_CAP", 20),
            smtp=SmtpSettings(
                host=environ.get("WORKFLOW_APP_SMTP_HOST", ""), port=int(environ.get("WORKFLOW_APP_SMTP_PORT", "25")),
                security=environ.get("WORKFLOW_APP_SMTP_SECURITY", "starttls"),
                username=environ.get("WORKFLOW_APP_SMTP_USERNAME") or None,
                password=environ.get("WORKFLOW_APP_SMTP_PASSWORD") or None,
                sender=environ.get("WORKFLOW_APP_SMTP_SENDER", "hazard-loop@localhost"),
            ),
            sms=SmsSettings.from_env(environ),
            oidc=OidcSettings.from_env(environ),
            database_limits=DatabaseLimits.from_env(environ),
            metrics_token=environ.get("WORKFLOW_APP_METRICS_TOKEN") or None,
            base_url=_base_url(environ.get("WORKFLOW_APP_BASE_URL", "")),
            max_model_bytes=_at_least_one(environ, "WORKFLOW_APP_MAX_MODEL_BYTES", 5 * 1024 * 1024),
        )


def _at_least_one(environ: Mapping[str, str], name: str, default: int) -> int:
    """A whole number ≥ 1 from `environ[name]`, or ValueError naming the setting."""
    raw = environ.get(name, str(default))
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def _base_url(raw: str) -> str | None:
    """WORKFLOW_APP_BASE_URL without its trailing /, None when unset; ValueError when not an http(s) address."""
    value = raw.strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"WORKFLOW_APP_BASE_URL must be an http(s):// address without query, not {raw!r}")
    return value
