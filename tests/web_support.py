"""Driving the web app with Flask's test client: sign in, read the CSRF token, make photos."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.config import Settings
from workflow_app.web import create_app

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on `path` (the session's token)."""
    page = client.get(path)
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, f"no csrf token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = "pw") -> None:
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)


def png(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def upload(content: bytes, name: str) -> tuple[io.BytesIO, str]:
    """A file for a multipart form field."""
    return io.BytesIO(content), name


def make_app(factory: sessionmaker[Session], folder: Path, now: datetime | Callable[[], datetime],
             base_url: str | None = None) -> Flask:
    """The web app on the test's database, with its instance folder in `folder` and a fixed clock."""
    settings = Settings(database_url="unused://", secret_key="test-secret", bpmn_dir=BPMN_DIR,
                        instance_dir=folder / "instance", secure_cookies=False, base_url=base_url)
    return create_app(settings, factory, clock=now if callable(now) else (lambda: now))
