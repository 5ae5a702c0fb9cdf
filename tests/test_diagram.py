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


@pytest.mark.parametrize(("xml", "message"), [
    ("<bpmn:definitions", "not well-formed"),
    (TINY.replace("{diagram}", ""), "no diagram"),
])
def test_bad_models_are_refused_with_a_reason(xml: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_svg(xml)
