"""Call activities: a bundle of files where one process calls another deploys together (CLI: several files; web:
several files or a zip) and the called process runs as part of the case, its lanes mapped like the caller's."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, Zone
from helpers import open_case_tasks
from sqlalchemy import func, select
from web_support import csrf, make_app, sign_in

from workflow_app.cli import main
from workflow_app.engine import ModelError
from workflow_app.services import cases, tasks
from workflow_app.services.model_registry import prepare_bundle, store
from workflow_app.store.database import transaction
from workflow_app.store.models import Case, ModelVersion, ProcessInstanceRow

DEFINITIONS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="{pid}_defs" targetNamespace="t">
  <bpmn:process id="{pid}" name="{name}" isExecutable="true">
    <bpmn:laneSet id="{pid}_lanes">{lanes}</bpmn:laneSet>
    {body}
  </bpmn:process>
</bpmn:definitions>"""
CALLER = DEFINITIONS.format(pid="rectify_with_inspection", name="整改并检查", lanes="""
    <bpmn:lane id="Lane_Ent" name="企业"><bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Task_Report</bpmn:flowNodeRef><bpmn:flowNodeRef>Call_Inspect</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Task_Close</bpmn:flowNodeRef><bpmn:flowNodeRef>EndEvent_1</bpmn:flowNodeRef></bpmn:lane>""",
                            body="""
    <bpmn:startEvent id="StartEvent_1" /><bpmn:userTask id="Task_Report" name="上报整改" />
    <bpmn:callActivity id="Call_Inspect" name="部门检查" calledElement="department_inspection" />
    <bpmn:userTask id="Task_Close" name="确认关闭" /><bpmn:endEvent id="EndEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_Report" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Report" targetRef="Call_Inspect" />
    <bpmn:sequenceFlow id="F3" sourceRef="Call_Inspect" targetRef="Task_Close" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Close" targetRef="EndEvent_1" />""").encode()
CALLED = DEFINITIONS.format(pid="department_inspection", name="部门检查", lanes="""
    <bpmn:lane id="Lane_Checker" name="检查组"><bpmn:flowNodeRef>Sub_Start</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Task_Inspect</bpmn:flowNodeRef><bpmn:flowNodeRef>Sub_End</bpmn:flowNodeRef></bpmn:lane>""",
                            body="""
    <bpmn:startEvent id="Sub_Start" /><bpmn:userTask id="Task_Inspect" name="现场检查" />
    <bpmn:endEvent id="Sub_End" />
    <bpmn:sequenceFlow id="S1" sourceRef="Sub_Start" targetRef="Task_Inspect" />
    <bpmn:sequenceFlow id="S2" sourceRef="Task_Inspect" targetRef="Sub_End" />""").encode()
BUNDLE = [("caller.bpmn", CALLER), ("called.bpmn", CALLED)]
LANES = {"检查组": "department"}


def test_a_called_process_runs_as_part_of_the_case_with_its_lanes_mapped(factory, zone: Zone) -> None:
    bundle = prepare_bundle(BUNDLE, LANES)
    assert [prepared.model.process_id for prepared in bundle] == ["rectify_with_inspection"]
    with transaction(factory) as s:
        store(s, bundle[0], T0)
    with transaction(factory) as s:
        case_id = cases.start_case(s, zone.principal, "rectify_with_inspection", {}, T0).id
    for name, role, actor, organisation in (
            ("上报整改", "enterprise", zone.principal, zone.enterprise_id),
            ("现场检查", "department", zone.department, zone.department.organisation_id),
            ("确认关闭", "enterprise", zone.principal, zone.enterprise_id)):
        [task] = open_case_tasks(factory, case_id)
        assert (task.name, task.role, task.organisation_id) == (name, role, organisation)
        with transaction(factory) as s:
            tasks.complete_task(s, actor, task.task_id, {"comment": "好"}, T0)
    with transaction(factory) as s:
        assert s.get(ProcessInstanceRow, s.get(Case, case_id).instance_id).status == "completed"


def test_a_bundle_missing_the_called_process_or_its_lane_is_refused_by_name() -> None:
    with pytest.raises(ModelError, match="department_inspection"):
        prepare_bundle([("caller.bpmn", CALLER), ("other.bpmn", CALLED.replace(b"department_inspection", b"x"))],
                       LANES)
    with pytest.raises(ModelError, match="'检查组' maps to no role") as refused:
        prepare_bundle(BUNDLE)
    assert refused.value.element_id == "Task_Inspect"


def test_the_command_line_deploys_several_files_as_one_bundle(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    for name, content in BUNDLE:
        (tmp_path / name).write_bytes(content)
    alone = runner.invoke(main, ["deploy", str(tmp_path / "caller.bpmn")])
    assert alone.exit_code == 1 and "department_inspection" in alone.output
    result = runner.invoke(main, ["deploy", str(tmp_path / "caller.bpmn"), str(tmp_path / "called.bpmn"),
                                  "--lane", "检查组=department"])
    assert result.exit_code == 0 and "rectify_with_inspection v1 deployed" in result.output


def test_the_office_uploads_a_bundle_as_a_zip_and_a_broken_zip_is_refused(factory, zone: Zone, tmp_path: Path) -> None:
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    broken = office.post("/admin/models", data={"model": (io.BytesIO(b"PK\x03\x04 not a zip"), "b.zip"),
                                                "csrf_token": csrf(office, "/admin/models")},
                         content_type="multipart/form-data")
    assert broken.status_code == 422 and "zip" in broken.get_data(as_text=True)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, content in BUNDLE:
            zipped.writestr(f"../models/{name}", content)  # a hostile path inside: only the file name is used
    uploaded = office.post("/admin/models", data={"model": (io.BytesIO(archive.getvalue()), "bundle.zip"),
                                                  "lanes": "检查组=department",
                                                  "csrf_token": csrf(office, "/admin/models")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302
    with transaction(factory) as s:
        versions = s.execute(select(ModelVersion.process_id, ModelVersion.file_name)
                             .where(ModelVersion.process_id == "rectify_with_inspection")).all()
        assert versions == [("rectify_with_inspection", "caller.bpmn")]
        assert s.scalar(select(func.count()).select_from(ModelVersion)
                        .where(ModelVersion.process_id == "department_inspection")) == 0
