"""Models from elsewhere meet deploy: other encodings are read or refused by name, DTDs are refused, size is
limited, long chains deploy and run, and a model without a diagram still gets a drawing."""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, Zone
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.cli import main
from workflow_app.diagram import render_svg
from workflow_app.engine import ModelError
from workflow_app.services import cases, tasks
from workflow_app.services.model_registry import deploy, prepare, process_model
from workflow_app.store.database import transaction
from workflow_app.store.models import InboxTask, ModelVersion

SVG = "{http://www.w3.org/2000/svg}"


def chain(steps: int, process_id: str = "long_chain", encoding: str = "UTF-8") -> str:
    """A sequential model of `steps` user tasks in the enterprise's lane, without BPMNDI."""
    tasks_xml = "".join(f'<bpmn:userTask id="Step_{i}" name="第 {i} 步" />' for i in range(steps))
    refs = "".join(f"<bpmn:flowNodeRef>Step_{i}</bpmn:flowNodeRef>" for i in range(steps))
    ends = ["StartEvent_1", *(f"Step_{i}" for i in range(steps)), "EndEvent_1"]
    flows = "".join(f'<bpmn:sequenceFlow id="Flow_{k}" sourceRef="{a}" targetRef="{b}" />'
                    for k, (a, b) in enumerate(itertools.pairwise(ends)))
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs" targetNamespace="t">
  <bpmn:process id="{process_id}" name="长流程" isExecutable="true">
    <bpmn:laneSet id="Lanes"><bpmn:lane id="Lane" name="企业">
      <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>{refs}<bpmn:flowNodeRef>EndEvent_1</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" />{tasks_xml}<bpmn:endEvent id="EndEvent_1" />{flows}
  </bpmn:process>
</bpmn:definitions>"""


def _left(group: ET.Element) -> float:
    """The left edge of a drawn shape: a task's rectangle, an event's circle."""
    rect = group.find(f"{SVG}rect")
    if rect is not None:
        return float(rect.get("x", "0"))
    circle = group.find(f"{SVG}circle")
    assert circle is not None
    return float(circle.get("cx", "0")) - float(circle.get("r", "0"))


def _versions(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count(ModelVersion.id))) or 0


@pytest.mark.parametrize("encoding", ["GBK", "UTF-16"])
def test_a_model_saved_in_another_encoding_is_read_from_its_declaration(factory, encoding: str) -> None:
    with transaction(factory) as s:
        version = deploy(s, chain(2, encoding=encoding).encode(encoding.lower()), "gbk.bpmn", T0)
        assert version.name == "长流程" and "第 1 步" in version.xml
    with transaction(factory) as s:  # what is stored is read back as text, whatever the file's encoding was
        restored = process_model(s.get(ModelVersion, version.id))
        assert restored.process_id == "long_chain"
        assert "第 1 步" in render_svg(s.get(ModelVersion, version.id).xml)


@pytest.mark.parametrize(("content", "words"), [
    (chain(2).replace('encoding="UTF-8"', 'encoding="x-unknown"').encode(), "file encoding"),
    (chain(2).replace('<?xml version="1.0" encoding="UTF-8"?>', "").encode("gbk"), "file encoding"),
    (chain(2).replace('<?xml version="1.0" encoding="UTF-8"?>', "").encode("utf-16-le"), "file encoding"),
    (chain(2).replace("<bpmn:definitions", '<!DOCTYPE bpmn:definitions [<!ENTITY x "y">]>\n<bpmn:definitions')
     .replace('name="长流程"', 'name="&x;"').encode(), "DTDs/entities are not allowed"),
    (chain(2).replace("<bpmn:definitions", '<!DOCTYPE d SYSTEM "http://example.invalid/x.dtd">\n<bpmn:definitions')
     .encode(), "DTDs/entities are not allowed"),
    (chain(2).replace('"StartEvent_1"', '"Start"').replace(">StartEvent_1<", ">Start<").encode(), "reserved"),
])
def test_unreadable_encodings_and_dtds_are_refused_by_name_and_nothing_is_stored(
        factory, content: bytes, words: str) -> None:
    before = _versions(factory)
    with pytest.raises(ModelError, match=words) as refused, transaction(factory) as s:
        deploy(s, content, "odd.bpmn", T0)
    assert str(refused.value).startswith("odd.bpmn") and _versions(factory) == before


def test_a_two_thousand_step_chain_deploys_and_runs_through_the_inbox(factory, zone: Zone) -> None:
    with transaction(factory) as s:
        deploy(s, chain(2000).encode(), "long.bpmn", T0)
    with transaction(factory) as s:
        case_id = cases.start_case(s, zone.principal, "long_chain", {}, T0).id
    for step in range(3):
        with transaction(factory) as s:
            task = s.scalars(select(InboxTask).where(InboxTask.case_id == case_id,
                                                     InboxTask.completed_at.is_(None))).one()
            assert task.name == f"第 {step} 步" and task.role == "enterprise"
            tasks.complete_task(s, zone.principal, task.task_id, {}, T0)


def test_a_model_past_the_element_cap_is_refused_with_the_way_out() -> None:
    from workflow_app.engine.parser import MAX_FLOW_ELEMENTS

    with pytest.raises(ModelError, match="split it with call activities"):
        prepare(chain(MAX_FLOW_ELEMENTS // 2 + 1).encode(), "huge.bpmn")


def test_a_model_without_a_diagram_is_laid_out_in_flow_order() -> None:
    loop = chain(3).replace("</bpmn:process>", '<bpmn:sequenceFlow id="Back" sourceRef="Step_2" targetRef="Step_0" />'
                                               "</bpmn:process>")
    root = ET.fromstring(render_svg(loop))
    shapes = {g.get("data-element-id"): g for g in root.iter(f"{SVG}g") if "shape" in g.get("class", "")}
    assert set(shapes) == {"StartEvent_1", "Step_0", "Step_1", "Step_2", "EndEvent_1"}
    x = {ref: _left(g) for ref, g in shapes.items()}
    assert x["StartEvent_1"] < x["Step_0"] < x["Step_1"] < x["Step_2"] < x["EndEvent_1"]  # not reordered by the loop
    drawn = {g.get("data-element-id") for g in root.iter(f"{SVG}g")}
    assert {"Flow_0", "Flow_3", "Back"} <= drawn

def test_the_web_refuses_a_model_over_the_size_limit_and_draws_one_without_a_diagram(
        factory, zone: Zone, tmp_path: Path) -> None:
    app = make_app(factory, tmp_path, T0)
    app.extensions["workflow_app"].max_model_bytes = 20_000
    office = app.test_client()
    sign_in(office, "office")
    before = _versions(factory)
    big = office.post("/admin/models", data={"model": (io.BytesIO(chain(200).encode()), "big.bpmn"),
                                             "csrf_token": csrf(office, "/admin/models")},
                      content_type="multipart/form-data")
    assert big.status_code == 413 and "MB" in big.get_data(as_text=True) and _versions(factory) == before
    small = office.post("/admin/models", data={"model": (io.BytesIO(chain(3).encode("gbk").replace(
        b'encoding="UTF-8"', b'encoding="GBK"')), "small.bpmn"), "csrf_token": csrf(office, "/admin/models")},
        content_type="multipart/form-data")
    assert small.status_code == 302 and _versions(factory) == before + 1
    with transaction(factory) as s:
        version_id = s.scalar(select(ModelVersion.id).where(ModelVersion.process_id == "long_chain"))
    drawing = office.get(f"/admin/models/{version_id}/diagram.svg")
    assert drawing.status_code == 200 and "第 2 步" in drawing.get_data(as_text=True)


def test_the_command_line_refuses_a_model_over_the_size_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("WORKFLOW_APP_MAX_MODEL_BYTES", "20000")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    big, small = tmp_path / "big.bpmn", tmp_path / "small.bpmn"
    big.write_text(chain(200), encoding="utf-8")
    small.write_text(chain(3), encoding="utf-8")
    refused = runner.invoke(main, ["deploy", str(big)])
    assert refused.exit_code == 1 and "WORKFLOW_APP_MAX_MODEL_BYTES" in refused.output
    assert "long_chain v1 deployed" in runner.invoke(main, ["deploy", str(small)]).output
