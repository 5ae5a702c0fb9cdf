"""Every setting, read from the environment with its default and a one-line meaning."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
        )
