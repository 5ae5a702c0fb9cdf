"""Security headers on every response, and downloads that cannot be turned against the user: through Flask's
test client, from the web pages and from /api/v1 alike."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from conftest import BPMN_DIR, T0
from flask import Flask
from flask.testing import FlaskClient
from helpers import report
from web_support import make_app, png, sign_in

from workflow_app.config import Settings
from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction
from workflow_app.web import create_app

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
STRICT = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "object-src": "'none'",
          "base-uri": "'self'", "form-action": "'self'", "frame-ancestors": "'none'", "img-src": "'self' blob:"}


@pytest.fixture
def app(factory, tmp_path: Path) -> Flask:
    return make_app(factory, tmp_path, T0)


def _bearer(factory, user) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "测试", ["read", "write"], 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def _policy(response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    directives = (d.strip().split(None, 1) for d in response.headers["Content-Security-Policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives if d}


def _assert_protected(response, policy: dict[str, str] = STRICT) -> None:
    assert _policy(response) == policy, response.request.path
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def _upload(client: FlaskClient, headers: dict[str, str], hazard_id: int, content: bytes, name: str) -> int:
    """Attach a file through the API the way any HTTP client may: the name in RFC 2231 `filename*`, so it can
    carry quotes, CR/LF and path separators."""
    boundary = "----boundary7MA4YWxkTrZu0gW"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''{quote(name, safe='')}"
            "\r\nContent-Type: application/octet-stream\r\n\r\n")
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    uploaded = client.post(f"/api/v1/hazards/{hazard_id}/attachments", data=body, headers=headers,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert uploaded.status_code == 201, uploaded.get_data(as_text=True)
    return int(uploaded.json["id"])


def _both_ways(app: Flask, factory, zone, content: bytes, name: str) -> list:
    """Upload a file to a new hazard through the API, then fetch it back from the API and from the web page."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    api, headers = app.test_client(), _bearer(factory, zone.principal)
    attachment_id = _upload(api, headers, hazard_id, content, name)
    web = app.test_client()
    sign_in(web, "boss")
    served = [api.get(f"/api/v1/attachments/{attachment_id}", headers=headers), web.get(f"/photos/{attachment_id}")]
    for response in served:
        assert response.status_code == 200 and response.data == content, response.request.path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    return served


def test_pages_static_files_api_calls_downloads_and_errors_all_carry_the_headers(app: Flask, factory, zone) -> None:
    anonymous, web, api = app.test_client(), app.test_client(), app.test_client()
    sign_in(web, "boss")
    headers = _bearer(factory, zone.principal)
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    attachment_id = _upload(api, headers, hazard_id, png("blue"), "p.png")
    responses = [anonymous.get("/login"), anonymous.get("/report"), web.get("/inbox"),
                 web.get(f"/hazards/{hazard_id}"), anonymous.get("/static/app.css"), anonymous.get("/static/filter.js"),
                 api.get("/api/v1/hazards", headers=headers), api.get(f"/api/v1/attachments/{attachment_id}",
                                                                      headers=headers),
                 api.get("/api/v1/openapi.json"), api.get("/api/v1/hazards"),  # 401 problem details
                 web.get("/no-such-page"), api.get("/api/v1/no-such-call", headers=headers),
                 web.post("/inbox/bulk")]  # 400: no CSRF token
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 404, 404, 400]
    for response in responses:
        _assert_protected(response)
    static = {"/static/app.css", "/static/filter.js"}
    for response in responses:  # someone's data is never kept by a shared cache; pages not at all
        if response.request.path not in static:
            assert response.cache_control.private and not response.cache_control.public, response.request.path
    assert responses[2].cache_control.no_store and responses[3].cache_control.no_store  # inbox, hazard page
    photo = web.get(f"/photos/{attachment_id}")
    assert photo.cache_control.private and photo.cache_control.max_age and not photo.cache_control.no_store


def test_the_api_docs_page_alone_may_load_its_viewer_and_a_drawn_diagram_its_own_styles(app: Flask, factory,
                                                                                         zone) -> None:
    """ReDoc comes from our own copy and styles itself inline; nothing else is relaxed."""
    docs = app.test_client().get("/api/v1/docs")
    assert docs.status_code == 200
    viewer = app.config["OPENAPI_REDOC_URL"]
    assert f'<script src="{viewer}">' in docs.get_data(as_text=True)
    assert not urlsplit(viewer).netloc
    _assert_protected(docs, {**STRICT, "script-src": "'self'", "style-src": "'self' 'unsafe-inline'",
                             "img-src": "'self' data:", "worker-src": "blob:"})
    web = app.test_client()
    sign_in(web, "boss")
    diagram = web.get(f"/hazards/{report(factory, zone.principal, zone.enterprise_id, T0)}/diagram.svg")
    assert diagram.status_code == 200 and "<style>" in diagram.get_data(as_text=True)
    _assert_protected(diagram, {"default-src": "'none'", "style-src": "'unsafe-inline'", "frame-ancestors": "'none'"})


def test_a_pdf_comes_back_from_web_and_api_as_an_attachment_under_its_chinese_name(app: Flask, factory,
                                                                                   zone) -> None:
    for response in _both_ways(app, factory, zone, PDF, "检测报告.pdf"):
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            "attachment; filename=\"attachment.pdf\"; filename*=UTF-8''" + quote("检测报告.pdf")), response.request.path


def test_an_image_stays_inline_with_nosniff(app: Flask, factory, zone) -> None:
    for response in _both_ways(app, factory, zone, png("green"), "整改后.png"):
        assert response.mimetype == "image/png"
        assert response.headers["Content-Disposition"].startswith("inline;"), response.request.path


@pytest.mark.parametrize(("name", "ascii_name", "utf8_name"), [
    ('..\\../a"b\r\nX-Evil: 1.pdf', "a_bX-Evil_ 1.pdf", None),
    ("报告\";\r\nSet-Cookie: x=1;.pdf", "__Set-Cookie_ x=1_.pdf", "报告_;Set-Cookie_ x=1;.pdf"),
    ("/etc/passwd", "passwd.pdf", None),
    ("invoice\u202efdp.html", "invoicefdp.html.pdf", None),
    ("..", "attachment.pdf", None),
])
def test_a_hostile_file_name_is_made_safe_in_the_header(app: Flask, factory, zone, name: str, ascii_name: str,
                                                       utf8_name: str | None) -> None:
    """No quote, CR/LF, control or path character reaches the header, and a document keeps its own extension."""
    expected = f'attachment; filename="{ascii_name}"' + (f"; filename*=UTF-8''{quote(utf8_name)}" if utf8_name else "")
    for response in _both_ways(app, factory, zone, PDF, name):
        assert response.headers["Content-Disposition"] == expected, response.request.path
        assert "X-Evil" not in response.headers and "Set-Cookie" not in response.headers


def test_behind_https_browsers_are_told_to_stay_on_https(factory, tmp_path: Path) -> None:
    plain = make_app(factory, tmp_path, T0).test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers  # served over HTTP: the header would be ignored
    secure = create_app(Settings(database_url="unused://", secret_key="k", bpmn_dir=BPMN_DIR,
                                 instance_dir=tmp_path / "tls", secure_cookies=True), factory, clock=lambda: T0)
    assert secure.test_client().get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"
