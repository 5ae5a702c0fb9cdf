"""What /api/v1/openapi.json promises a generated client, and that the app keeps it: operation names,
headers, problem details, media types; the docs page works with no other host."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser_support import assert_no_csp_violation, chromium, serving
from conftest import T0
from flask import Flask
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from helpers import REPORT, report
from sqlalchemy import func, select
from web_support import make_app, png

from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction
from workflow_app.store.models import Evidence, Hazard
from workflow_app.web.api.document import DocumentPlugin

NAMES = {
    ("get", "/hazards"): "list_hazards", ("post", "/hazards"): "report_hazard",
    ("get", "/hazards/{hazard_id}"): "get_hazard",
    ("post", "/hazards/{hazard_id}/attachments"): "upload_attachment",
    ("get", "/attachments/{attachment_id}"): "download_attachment", ("get", "/tasks"): "list_my_tasks",
    ("get", "/tasks/{task_id}"): "get_task", ("post", "/tasks/{task_id}/complete"): "complete_task",
    ("get", "/models"): "list_models", ("get", "/campaigns"): "list_campaigns",
    ("get", "/campaigns/{code}"): "get_campaign", ("get", "/notices"): "list_my_notices",
    ("get", "/inspections"): "list_inspections", ("post", "/inspections"): "record_inspection",
    ("get", "/inspections/{inspection_id}"): "get_inspection",
    ("post", "/inspections/{inspection_id}/penalties"): "record_penalties",
    ("get", "/inspection-plans"): "list_inspection_plans",
    ("get", "/inspection-plans/{plan_id}"): "get_inspection_plan",
    ("get", "/me"): "get_me", ("get", "/forms/hazard-report"): "get_hazard_report_form",
    ("get", "/enterprises"): "list_enterprises",
    ("get", "/enterprises/{enterprise_id}/standard-items"): "list_standard_items",
}
"""The names generated clients call (changing one breaks them)."""
PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def app(factory, tmp_path: Path) -> Flask:
    return make_app(factory, tmp_path, T0)


@pytest.fixture
def document(app) -> dict:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path.removeprefix("/api/v1"), operation


def _resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = document["components"][kind][name]
    return node


def test_every_operation_has_its_stable_snake_case_name_a_tag_and_a_summary(document):
    named = {(method, path): operation["operationId"] for method, path, operation in _operations(document)}
    assert {key: named.get(key) for key in NAMES} == NAMES
    assert len(set(named.values())) == len(named)
    for method, path, operation in _operations(document):
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", operation["operationId"]), (method, path)
        assert operation["tags"] and 0 < len(operation["summary"]) <= 60, (method, path)


def test_an_operation_left_unnamed_stops_the_app_from_starting():
    app = Flask("unnamed")
    app.config.update(API_TITLE="t", API_VERSION="v1", OPENAPI_VERSION="3.1.0")
    blp = Blueprint("things", __name__)

    @blp.route("/things")
    class Things(MethodView):
        @blp.response(200)
        def get(self) -> list:
            return []

    api = Api(app, spec_kwargs={"extra_plugins": [DocumentPlugin()]})
    with pytest.raises(ValueError, match="GET /things needs a snake_case operationId"):
        api.register_blueprint(blp)


def test_every_error_is_declared_as_problem_details_with_its_headers(document):
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])
    for method, path, operation in _operations(document):
        responses = {status: _resolve(document, r) for status, r in operation["responses"].items()}
        assert "default" not in responses and {"401", "503"} <= set(responses), (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (path, status)
        assert "WWW-Authenticate" in responses["401"]["headers"]
        assert "Retry-After" in responses["503"]["headers"]
    complete = document["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]["responses"]
    assert {"412", "422", "428"} <= set(complete)


def test_posts_take_an_idempotency_key_and_say_when_they_replay(document):
    for method, path, operation in _operations(document):
        parameters = [_resolve(document, p)["name"] for p in operation.get("parameters", [])
                      if _resolve(document, p)["in"] == "header"]
        if method == "post":
            assert "Idempotency-Key" in parameters, path
            success = [r for status, r in operation["responses"].items() if status.startswith("2")]
            assert all("Idempotent-Replayed" in r["headers"] for r in success), path
        else:
            assert "Idempotency-Key" not in parameters, path
    complete = document["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]
    if_match = [_resolve(document, p) for p in complete["parameters"] if _resolve(document, p)["name"] == "If-Match"]
    assert if_match and if_match[0]["required"] is True
    task = document["paths"]["/api/v1/tasks/{task_id}"]["get"]["responses"]["200"]
    assert _resolve(document, task["headers"]["ETag"])["required"] is True
    assert task["links"]["complete_task"]["parameters"]["header.If-Match"] == "$response.header.ETag"


def test_downloads_are_declared_with_their_real_media_types(document):
    download = document["paths"]["/api/v1/attachments/{attachment_id}"]["get"]["responses"]["200"]
    assert set(download["content"]) == {"image/jpeg", "image/png", "image/webp", "application/pdf"}


def test_every_operation_answers_401_with_www_authenticate(app, document):
    client = app.test_client()
    for method, path, _operation in _operations(document):
        url = "/api/v1" + re.sub(r"\{[a-z_]+\}", "1", path)
        for headers in ({}, {"Authorization": "Bearer wfa_unknown"}, {"Authorization": "Basic dTpw"}):
            response = client.open(url, method=method.upper(), headers=headers, json={} if method == "post" else None)
            assert response.status_code == 401, (method, path, headers)
            assert response.mimetype == "application/problem+json"
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="workflow-app"', (method, path)


def _bearer(factory, user) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "doc", ["read", "write"], 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def test_a_method_the_address_does_not_take_is_405_with_allow(app, factory, zone):
    response = app.test_client().put("/api/v1/hazards", headers=_bearer(factory, zone.principal))
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_an_idempotency_key_longer_than_declared_is_refused_and_changes_nothing(app, factory, zone):
    headers = {**_bearer(factory, zone.principal), "Idempotency-Key": "k" * 201}
    response = app.test_client().post("/api/v1/hazards", headers=headers,
                                      json={"enterprise_id": zone.enterprise_id, "data": REPORT})
    assert response.status_code == 400 and "200" in response.json["detail"]
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Hazard)) == 0


def test_an_upload_with_a_part_not_declared_is_refused_naming_it(app, factory, zone):
    headers = _bearer(factory, zone.principal)
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    client = app.test_client()
    for extra, named in (({"": "null"}, ""), ({"note": "x"}, "note"),
                         ({"file": (io.BytesIO(png()), "b.png")}, "file")):
        data = {"file": (io.BytesIO(png()), "a.png")}
        if "file" in extra:
            data = {"file": [data["file"], extra["file"]]}
        else:
            data.update(extra)
        response = client.post(f"/api/v1/hazards/{hazard_id}/attachments", headers=headers, data=data)
        assert response.status_code == 422 and named in response.json["errors"], response.json
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0


def test_an_unknown_filter_value_is_a_422_naming_the_field(app, factory, zone):
    response = app.test_client().get("/api/v1/hazards?source=rumour", headers=_bearer(factory, zone.principal))
    assert response.status_code == 422 and set(response.json["errors"]) == {"source"}


class _Links(HTMLParser):
    """Every address a page loads or links to (src, href)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


def test_the_docs_page_loads_its_viewer_from_here_and_nothing_from_elsewhere(app):
    client = app.test_client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    links = _Links()
    links.feed(html)
    assert links.urls and all(url.startswith("/") and not url.startswith("//") for url in links.urls), links.urls
    assert not re.search(r"https?://", html)
    script = [url for url in links.urls if url.endswith(".js")]
    assert len(script) == 1
    viewer = client.get(script[0])
    assert viewer.status_code == 200 and viewer.mimetype in ("text/javascript", "application/javascript")
    assert len(viewer.get_data()) > 500_000  # the whole ReDoc bundle, not a stub
    assert b"cdn." not in viewer.get_data()  # its maker's logo is not fetched (static/vendor/redoc/README)
    assert "cdn" not in page.headers["Content-Security-Policy"]


@pytest.mark.browser
def test_the_docs_page_renders_in_a_browser_from_this_server_alone(app, engine):
    """ReDoc draws every operation, the policy refuses nothing, and every resource came from this server."""
    if engine.dialect.name != "sqlite":
        pytest.skip("one run is enough")
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(app) as base, chromium(1280, 900) as driver:
        driver.get(f"{base}/api/v1/docs")
        drawn = "Complete a task (If-Match)"
        WebDriverWait(driver, 30).until(lambda d: drawn in d.find_element("tag name", "body").text)
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(base) or url.startswith(("data:", "blob:")) for url in loaded), loaded
        assert_no_csp_violation(driver)
