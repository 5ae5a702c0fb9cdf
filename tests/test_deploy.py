"""Deploying model versions: validated like `check` plus lanes → roles; old instances keep their version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from conftest import BPMN_DIR, T0
from helpers import PLAN, complete, hazard, open_task, report
from sqlalchemy import func, select

from workflow_app.cli import main
from workflow_app.engine import ModelError
from workflow_app.services.model_registry import deploy, latest_version, versions_with_counts
from workflow_app.store.database import transaction
from workflow_app.store.models import ModelVersion, ProcessInstanceRow

XML = (BPMN_DIR / "hazard_lifecycle.bpmn").read_text(encoding="utf-8")
RENAMED = XML.replace('name="审核治理方案"', 'name="审核治理方案（第二版）"')


def _versions(factory) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count(ModelVersion.id))) or 0


def test_old_instances_finish_on_their_version_and_new_ones_take_the_latest(factory, zone):
    old = report(factory, zone.principal, zone.enterprise_id, T0)
    with transaction(factory) as s:
        v2 = deploy(s, RENAMED.encode(), "hazard_lifecycle.bpmn", T0 + timedelta(hours=1))
        assert v2.version == 2 and latest_version(s, "hazard_lifecycle").id == v2.id
    new = report(factory, zone.principal, zone.enterprise_id, T0 + timedelta(hours=2))
    complete(factory, zone.principal, old, PLAN, T0 + timedelta(hours=3))
    complete(factory, zone.principal, new, PLAN, T0 + timedelta(hours=3))
    assert open_task(factory, old).name == "审核治理方案" and open_task(factory, new).name == "审核治理方案（第二版）"
    complete(factory, zone.department, old, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    complete(factory, zone.principal, old, {"rectification_result": "已完成", "rectified_on": "2026-11-10"}, T0)
    complete(factory, zone.department, old, {"verification_result": "passed", "verification_opinion": "合格"}, T0)
    assert hazard(factory, old).status == "closed"
    with transaction(factory) as s:
        counts = {(v.process_id, v.version): (running, total) for v, running, total in versions_with_counts(s)}
        versions = dict(s.execute(select(ProcessInstanceRow.id, ProcessInstanceRow.model_version_id)).all())
    assert counts[("hazard_lifecycle", 1)] == (0, 1) and counts[("hazard_lifecycle", 2)] == (1, 1)
    assert len(set(versions.values())) == 2


@pytest.mark.parametrize(("broken", "element", "words"), [
    (XML.replace('targetRef="Task_ReviewPlan"', 'targetRef="Task_Nowhere"', 1), "Flow_", "names no element"),
    (XML.replace("working_days_before(rectification_deadline, 3)", "working_days_before(", 1), "Timer_Reminder",
     "timer expression does not compile"),
    (XML.replace('name="监管部门"', 'name="车间"', 1), "Task_", "lane '车间' maps to no role"),
])
def test_broken_models_are_refused_naming_the_element_and_nothing_is_stored(factory, broken, element, words):
    before = _versions(factory)
    with pytest.raises(ModelError) as refused, transaction(factory) as s:
        deploy(s, broken.encode(), "broken.bpmn", T0)
    assert refused.value.element_id and refused.value.element_id.startswith(element) and words in str(refused.value)
    assert "broken.bpmn" in str(refused.value) and _versions(factory) == before


def test_a_lane_named_at_deploy_maps_to_its_role(factory, zone):
    with transaction(factory) as s:
        version = deploy(s, XML.replace('name="监管部门"', 'name="车间"', 1).encode(), "x.bpmn", T0,
                         {"车间": "department"})
        assert version.lane_roles == {"车间": "department"}
    with pytest.raises(ModelError, match="role 'boss'"), transaction(factory) as s:
        deploy(s, XML.encode(), "x.bpmn", T0, {"车间": "boss"})


def test_deploy_and_models_from_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    good, bad = tmp_path / "v2.bpmn", tmp_path / "bad.bpmn"
    good.write_text(RENAMED, encoding="utf-8")
    bad.write_text(XML.replace('name="监管部门"', 'name="车间"', 1), encoding="utf-8")
    deployed = runner.invoke(main, ["deploy", str(good)])
    assert deployed.exit_code == 0 and "hazard_lifecycle v2 deployed" in deployed.output
    refused = runner.invoke(main, ["deploy", str(bad)])
    assert refused.exit_code == 1 and "bad.bpmn" in refused.output and "Task_" in refused.output
    mapped = runner.invoke(main, ["deploy", str(bad), "--lane", "车间=department"])
    assert mapped.exit_code == 0 and "v3" in mapped.output
    listing = runner.invoke(main, ["models", "list"]).output
    assert "hazard_lifecycle       v3" in listing and "enterprise_duty" in listing
    shown = runner.invoke(main, ["models", "show", "hazard_lifecycle", "--version", "1", "--svg",
                                 str(tmp_path / "d.svg")])
    assert "Task_Rectify" in shown.output and (tmp_path / "d.svg").read_text().startswith("<svg")


def test_the_office_deploys_on_the_admin_page_and_others_cannot(factory, zone, tmp_path):
    import io

    from web_support import csrf, make_app, sign_in


    app = make_app(factory, tmp_path, T0)
    office = app.test_client()
    sign_in(office, "office")
    page = office.get("/admin/models").get_data(as_text=True)
    assert "hazard_lifecycle" in page and "enterprise_duty" in page
    refused = office.post("/admin/models", data={"model": (io.BytesIO(XML.replace('name="监管部门"', 'name="车间"', 1)
                                                                      .encode()), "b.bpmn"),
                                                 "csrf_token": csrf(office, "/admin/models")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and "车间" in refused.get_data(as_text=True)
    before = _versions(factory)
    accepted = office.post("/admin/models", data={"model": (io.BytesIO(RENAMED.encode()), "v2.bpmn"),
                                                  "csrf_token": csrf(office, "/admin/models")},
                           content_type="multipart/form-data")
    assert accepted.status_code == 302 and _versions(factory) == before + 1
    with transaction(factory) as s:
        newest = latest_version(s, "hazard_lifecycle")
    assert office.get(f"/admin/models/{newest.id}/diagram.svg").mimetype == "image/svg+xml"
    department = app.test_client()
    sign_in(department, "dept")
    assert department.get("/admin/models").status_code == 404
