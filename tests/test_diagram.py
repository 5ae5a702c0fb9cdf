"""The server-drawn process diagram: every shape drawn, the current step highlighted, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workflow_app.diagram import render_svg

MODEL = (Path(__file__).resolve().parents[1] / "bpmn" / "hazard_lifecycle.bpmn").read_bytes()
SVG = "{http://www.w3.org/2000/svg}"
TINY = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d">
  <bpmn:process id="p"><bpmn:userTask id="t" name="检查 &lt;阀门&gt; &amp; &quot;管线&quot;" /></bpmn:process>
  {diagram}
</bpmn:definitions>"""
DIAGRAM = """<bpmndi:BPMNDiagram><bpmndi:BPMNPlane bpmnElement="p">
  <bpmndi:BPMNShape bpmnElement="t"><dc:Bounds x="10" y="10" width="100" height="80" /></bpmndi:BPMNShape>
</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"""


def _groups(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {g.get("data-element-id", ""): g.get("class", "") for g in root.iter(f"{SVG}g")
            if "shape" in g.get("class", "")}


def test_every_shape_of_the_model_is_drawn_and_the_current_step_stands_out() -> None:
    svg = render_svg(MODEL, current={"Task_Rectify"}, done={"Task_PlanRectification"})
    groups = _groups(svg)
    shapes = {s.get("bpmnElement") for s in ET.fromstring(MODEL).iter(
        "{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape")}
    assert set(groups) == shapes
    assert [ref for ref, css in groups.items() if "current" in css.split()] == ["Task_Rectify"]
    assert [ref for ref, css in groups.items() if "done" in css.split()] == ["Task_PlanRectification"]
    assert "实施整改" in svg and ET.fromstring(svg).get("viewBox")


def test_names_are_escaped() -> None:
    svg = render_svg(TINY.replace("{diagram}", DIAGRAM))
    text = "".join(ET.fromstring(svg).itertext())
    assert '<阀门>' in text and '&' in text and '"管线"' in text


def test_a_malformed_model_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="not well-formed"):
        render_svg("<bpmn:definitions")


def test_a_model_without_a_diagram_is_laid_out_and_still_escaped() -> None:
    svg = render_svg(TINY.replace("{diagram}", ""))
    assert set(_groups(svg)) == {"t"} and '<阀门>' in "".join(ET.fromstring(svg).itertext())


def test_kinds_of_the_model_get_their_notation() -> None:
    root = ET.fromstring(render_svg(MODEL))
    groups = {g.get("data-element-id"): g for g in root.iter(f"{SVG}g")}
    assert groups["Gateway_Source"].find(f"{SVG}polygon") is not None
    assert len(groups["Timer_Overdue"].findall(f"{SVG}circle")) == 3  # double ring and clock face
    assert groups["Timer_Overdue"].find(f"{SVG}path") is not None
    assert "end" in groups["EndEvent_Closed"].get("class", "").split()
    assert groups["Task_Rectify"].find(f"{SVG}rect").get("rx") == "10"
    assert groups["Lane_Office"].find(f"{SVG}text").get("transform", "").startswith("rotate(-90")
    assert root.get("role") == "img" and root.get("aria-label") and root.get("width") == "100%"
    assert all(not node.tag.endswith("script") for node in root.iter())


def test_an_unplaced_flow_name_sits_by_the_middle_of_its_line() -> None:
    flow = '<bpmn:sequenceFlow id="f" name="整改" sourceRef="t" targetRef="t" />'
    edge = ('<bpmndi:BPMNEdge bpmnElement="f"><di:waypoint x="0" y="200" /><di:waypoint x="100" y="200" />'
            '<di:waypoint x="300" y="200" /></bpmndi:BPMNEdge></bpmndi:BPMNPlane>')
    xml = TINY.replace("</bpmn:process>", flow + "</bpmn:process>").replace(
        "{diagram}", DIAGRAM.replace("</bpmndi:BPMNPlane>", edge))
    label = ET.fromstring(render_svg(xml)).find(f".//{SVG}g[@data-element-id='f']/{SVG}text")
    assert label is not None and float(label.get("x", "0")) == 204


def test_external_entities_are_not_read() -> None:
    xml = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
           + TINY.split("?>", 1)[1].replace('name="检查', 'name="&e;检查'))
    with pytest.raises(ValueError, match="not well-formed"):
        render_svg(xml.replace("{diagram}", DIAGRAM))
