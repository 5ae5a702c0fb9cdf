"""Every setting, read from the environment with its default and a one-line meaning."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    dispatch_webhook_workers: int = 4
    """WORKFLOW_APP_DISPATCH_WEBHOOK_WORKERS: webhook notices one scheduler process sends at once (≥ 1)."""
    dispatch_email_workers: int = 2
    """WORKFLOW_APP_DISPATCH_EMAIL_WORKERS: e-mails one scheduler process sends at once (≥ 1); each is one SMTP
    connection, so keep it within what the mail server allows per client."""
    smtp: SmtpSettings = field(default_factory=lambda: SmtpSettings(host=""))
    """WORKFLOW_APP_SMTP_HOST, _PORT, _SECURITY (starttls|ssl|none), _USERNAME, _PASSWORD, _SENDER."""

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
            dispatch_webhook_workers=_at_least_one(environ, "WORKFLOW_APP_DISPATCH_WEBHOOK_WORKERS", 4),
            dispatch_email_workers=_at_least_one(environ, "WORKFLOW_APP_DISPATCH_EMAIL_WORKERS", 2),
            smtp=SmtpSettings(
                host=environ.get("WORKFLOW_APP_SMTP_HOST", ""), port=int(environ.get("WORKFLOW_APP_SMTP_PORT", "25")),
                security=environ.get("WORKFLOW_APP_SMTP_SECURITY", "starttls"),
                username=environ.get("WORKFLOW_APP_SMTP_USERNAME") or None,
                password=environ.get("WORKFLOW_APP_SMTP_PASSWORD") or None,
                sender=environ.get("WORKFLOW_APP_SMTP_SENDER", "hazard-loop@localhost"),
            ),
        )


def _at_least_one(environ: Mapping[str, str], name: str, default: int) -> int:
    """A whole number ≥ 1 from `environ[name]`, or ValueError naming the setting."""
    raw = environ.get(name, str(default))
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)
