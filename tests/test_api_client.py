"""A client generated (openapi-python-client) from the document a real server serves walks a major hazard to
closed: report (replayed by its Idempotency-Key) → plan (a stale ETag first: 412) → review → rectify with an
after photo → verify with the verifier's signature → closed. Nothing but the document tells it how."""

from __future__ import annotations

import importlib
import inspect
import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import T0
from helpers import REPORT
from web_support import make_app, png
from werkzeug.serving import make_server

from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "wf_generated_client"


@pytest.fixture
def base_url(factory, tmp_path) -> Iterator[str]:
    """The app served over HTTP on loopback by werkzeug in a thread."""
    server = make_server("127.0.0.1", 0, make_app(factory, tmp_path / "app", T0), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def generated(base_url, tmp_path) -> Iterator[Any]:
    """The client package generated from the served document (offline: the generator reads a local file)."""
    if not GENERATOR.exists():
        pytest.fail("openapi-python-client is not installed: pip install -e '.[dev]'")
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{base_url}/api/v1/openapi.json", timeout=10).raise_for_status().content)
    config = tmp_path / "generator.yaml"
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    subprocess.run([str(GENERATOR), "generate", "--path", str(document), "--output-path",
                    str(tmp_path / "client" / PACKAGE), "--meta", "none", "--config", str(config)],
                   check=True, capture_output=True, timeout=120)
    sys.path.insert(0, str(tmp_path / "client"))
    try:
        package = importlib.import_module(PACKAGE)
        for part in ("models", "types"):
            importlib.import_module(f"{PACKAGE}.{part}")
        yield package
    finally:
        sys.path.remove(str(tmp_path / "client"))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(package: Any, operation_id: str) -> Any:
    """The generated module of an operation (its tag's folder is the generator's choice)."""
    for tag in (Path(package.__file__).parent / "api").iterdir():
        if (tag / f"{operation_id}.py").exists():
            return importlib.import_module(f"{PACKAGE}.api.{tag.name}.{operation_id}")
    raise AssertionError(f"no generated operation {operation_id}")


def _call(package: Any, operation_id: str, client: Any, headers: dict[str, str] | None = None,
          **arguments: Any) -> Any:
    """Call an operation; a header is a keyword argument where the document declares it, else set on the client."""
    function: Callable[..., Any] = _module(package, operation_id).sync_detailed
    accepted = inspect.signature(function).parameters
    for name, value in (headers or {}).items():
        keyword = name.lower().replace("-", "_")
        if keyword in accepted:
            arguments[keyword] = value
        else:
            client = client.with_headers({name: value})
    return function(client=client, **arguments)


def _token(factory, user) -> str:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "generated client", ["read", "write"], 30, T0)
    return plain


def _task(package: Any, client: Any, hazard_id: int) -> Any:
    """The caller's open task of the hazard, with its ETag, found through the paged task list."""
    cursor = package.types.UNSET
    while True:
        page = _call(package, "list_my_tasks", client, cursor=cursor, limit=50).parsed
        found = [t for t in page.items if t.hazard_id == hazard_id]
        if found:
            return _call(package, "get_task", client, task_id=found[0].task_id)
        if not page.next_cursor:
            raise AssertionError(f"no open task of hazard {hazard_id}")
        cursor = page.next_cursor


def _complete(package: Any, client: Any, task: Any, data: dict[str, Any], key: str) -> Any:
    models = package.models
    body = models.Complete(data=models.CompleteData.from_dict(data))
    return _call(package, "complete_task", client, {"If-Match": task.headers["ETag"], "Idempotency-Key": key},
                 task_id=task.parsed.task_id, body=body)


def test_a_generated_client_walks_a_major_hazard_to_closed(factory, zone, base_url, generated):
    package, models = generated, generated.models
    enterprise = package.AuthenticatedClient(base_url=base_url, token=_token(factory, zone.principal))
    department = package.AuthenticatedClient(base_url=base_url, token=_token(factory, zone.department))

    form = _call(package, "get_hazard_report_form", enterprise).parsed.to_dict()
    assert REPORT["category"] in form["properties"]["category"]["enum"]
    report = models.Report(enterprise_id=zone.enterprise_id, data=models.ReportData.from_dict(REPORT))
    first = _call(package, "report_hazard", enterprise, {"Idempotency-Key": "walk-report"}, body=report)
    again = _call(package, "report_hazard", enterprise, {"Idempotency-Key": "walk-report"}, body=report)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    hazard_id = first.parsed.id
    assert again.parsed.id == hazard_id

    plan = _task(package, enterprise, hazard_id)
    assert plan.parsed.bpmn_id == "Task_PlanRectification"
    data = {"responsible_person": "王五", "rectification_measures": "更换报警器", "rectification_funds": 2.5,
            "rectification_deadline": "2026-11-20", "emergency_plan": "设置警戒区"}
    stale = _call(package, "complete_task", enterprise, {"If-Match": '"0-0"'}, task_id=plan.parsed.task_id,
                  body=models.Complete(data=models.CompleteData.from_dict(data)))
    assert stale.status_code == 412 and json.loads(stale.content)["type"].endswith("/stale-etag")
    assert _complete(package, enterprise, plan, data, "walk-plan").status_code == 200

    review = _task(package, department, hazard_id)
    assert _complete(package, department, review, {"review_decision": "approve", "review_opinion": "同意"},
                     "walk-review").status_code == 200

    photo = models.Upload(file=package.types.File(payload=io.BytesIO(png("green")),
                                                  file_name="after.png", mime_type="image/png"),
                          stage=models.UploadStage.AFTER)
    uploaded = _call(package, "upload_attachment", enterprise, {"Idempotency-Key": "walk-photo"},
                     hazard_id=hazard_id, body=photo)
    assert uploaded.status_code == 201 and uploaded.parsed.stage == "photos_after"
    rectify = _task(package, enterprise, hazard_id)
    assert _complete(package, enterprise, rectify, {"rectification_result": "已更换", "rectified_on": "2026-11-10",
                                                    "photos_after": [uploaded.parsed.sha256]},
                     "walk-rectify").status_code == 200

    me = _call(package, "get_me", department).parsed
    verify = _task(package, department, hazard_id)
    assert verify.parsed.bpmn_id == "Task_DepartmentVerify"
    assert verify.parsed.form.to_dict()["properties"]["verifier_signature"]["const"] == me.display_name
    assert _complete(package, department, verify, {"verification_result": "passed", "verification_opinion": "合格",
                                                   "verifier_signature": me.display_name},
                     "walk-verify").status_code == 200

    closed = _call(package, "get_hazard", enterprise, hazard_id=hazard_id).parsed
    assert closed.status == "closed" and closed.level == "major"
    assert [a.stage for a in closed.attachments] == ["photos_after"]
