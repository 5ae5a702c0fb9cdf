"""Draw a BPMN model's diagram (its BPMNDI) as SVG on the server, the current step highlighted.

Only the standard library's ElementTree reads the XML (no DTDs, no external entities);
the SVG is built as an ElementTree too, so every name is escaped. The drawing follows
the usual BPMN notation closely enough to read a process: pools and lanes with vertical
names, rounded tasks, circles for events (thick for end, double for intermediate and
boundary, a clock for timers), diamonds for gateways, arrows for sequence flows.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from .diagram_layout import laid_out_plane

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
SVG_NS = "http://www.w3.org/2000/svg"
MARGIN = 20
FONT = 12
STYLE = """
.shape rect, .shape circle, .shape polygon { fill: #fff; stroke: #333; stroke-width: 1.5; }
.shape.pool rect, .shape.lane rect { fill: none; stroke: #888; }
.shape.done rect, .shape.done circle, .shape.done polygon { fill: #ebfbee; stroke: #2b8a3e; }
.shape.current rect, .shape.current circle, .shape.current polygon { fill: #fff4e6; stroke: #d9480f; stroke-width: 3; }
.shape.end circle.outline { stroke-width: 4; }
.flow { fill: none; stroke: #555; stroke-width: 1.2; marker-end: url(#arrow); }
.mark { fill: none; stroke: #333; stroke-width: 1.5; }
text { font: 12px system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; fill: #222; }
"""
TASKS = {"task", "userTask", "scriptTask", "serviceTask", "manualTask", "sendTask", "receiveTask",
         "businessRuleTask", "callActivity", "subProcess"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}


@dataclass(frozen=True)
class Box:
    """A dc:Bounds rectangle."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def of(cls, bounds: ET.Element) -> Box:
        """The rectangle of a dc:Bounds element; a non-numeric coordinate is a ValueError saying which."""
        try:
            return cls(*(float(bounds.get(k, "0")) for k in ("x", "y", "width", "height")))
        except ValueError:
            raise ValueError(f"diagram bounds are not numbers: {dict(bounds.attrib)}") from None

    @property
    def cx(self) -> float:
        """Horizontal centre."""
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        """Vertical centre."""
        return self.y + self.height / 2


def render_svg(xml: bytes | str, current: Collection[str] = (), done: Collection[str] = ()) -> str:
    """SVG of the first BPMNDiagram in `xml` (an automatic layout when it has none); elements whose bpmn id is
    in `current` are highlighted as the step now waiting, those in `done` marked as passed."""
    root = _parse(xml)
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    if plane is None:  # drawn without BPMNDI: lay it out ourselves
        plane = laid_out_plane(root)
    semantic = {element.get("id"): element for element in root.iter() if element.get("id")}
    svg = ET.Element(f"{{{SVG_NS}}}svg", {"role": "img", "aria-label": _process_name(root), "width": "100%",
                                          "preserveAspectRatio": "xMinYMin meet"})
    _defs(svg)
    xs: list[float] = []
    ys: list[float] = []
    for shape in plane.findall("bpmndi:BPMNShape", NS):
        box = _bounds(shape)
        for corner in (box, _label_box(shape) or box):
            xs += [corner.x, corner.x + corner.width]
            ys += [corner.y, corner.y + corner.height]
        ref = shape.get("bpmnElement", "")
        _draw_shape(svg, ref, _tag(semantic.get(ref)), semantic.get(ref), box, shape, _state(ref, current, done))
    for edge in plane.findall("bpmndi:BPMNEdge", NS):
        points = [(float(p.get("x", "0")), float(p.get("y", "0"))) for p in edge.findall("di:waypoint", NS)]
        xs += [x for x, _ in points]
        ys += [y for _, y in points]
        _draw_edge(svg, semantic.get(edge.get("bpmnElement", "")), points, edge)
    if xs:
        svg.set("viewBox", f"{min(xs) - MARGIN:g} {min(ys) - MARGIN:g} "
                           f"{max(xs) - min(xs) + 2 * MARGIN:g} {max(ys) - min(ys) + 2 * MARGIN:g}")
    ET.register_namespace("", SVG_NS)
    return ET.tostring(svg, encoding="unicode")


def _parse(xml: bytes | str) -> ET.Element:
    """The document's root; expat neither fetches external entities nor reads external DTDs."""
    try:
        return ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"the model is not well-formed XML: {exc}") from None


def _process_name(root: ET.Element) -> str:
    """The accessible name of the drawing: the process's name, else its id."""
    process = root.find("bpmn:process", NS)
    return (process.get("name") or process.get("id") or "BPMN") if process is not None else "BPMN"


def _tag(element: ET.Element | None) -> str:
    """The local BPMN tag (``userTask``, ``lane``...) of a semantic element, "" if it is missing."""
    return element.tag.rsplit("}", 1)[-1] if element is not None else ""


def _state(ref: str, current: Collection[str], done: Collection[str]) -> str:
    """The extra CSS class of an element: current wins over done."""
    return " current" if ref in current else " done" if ref in done else ""


def _bounds(shape: ET.Element) -> Box:
    """The bounds of a BPMNShape, which BPMNDI requires."""
    bounds = shape.find("dc:Bounds", NS)
    if bounds is None:
        raise ValueError(f"diagram shape {shape.get('id')!r} has no bounds")
    return Box.of(bounds)


def _label_box(di_element: ET.Element) -> Box | None:
    """Where the modeller placed the element's label, if anywhere."""
    bounds = di_element.find("bpmndi:BPMNLabel/dc:Bounds", NS)
    return Box.of(bounds) if bounds is not None else None


def _sub(parent: ET.Element, tag: str, **attributes: object) -> ET.Element:
    """Append an SVG element; ``class_``/``text_anchor`` style keywords become ``class``/``text-anchor``."""
    return ET.SubElement(parent, f"{{{SVG_NS}}}{tag}",
                         {k.rstrip("_").replace("_", "-"): f"{v:g}" if isinstance(v, float) else str(v)
                          for k, v in attributes.items()})


def _defs(svg: ET.Element) -> None:
    """The embedded stylesheet and the arrowhead marker of sequence flows."""
    _sub(svg, "style").text = STYLE
    marker = _sub(_sub(svg, "defs"), "marker", id="arrow", viewBox="0 0 10 10", refX=10, refY=5, markerWidth=7,
                  markerHeight=7, orient="auto-start-reverse")
    _sub(marker, "path", d="M 0 0 L 10 5 L 0 10 z", fill="#555")


def _draw_shape(svg: ET.Element, ref: str, tag: str, element: ET.Element | None, box: Box, di_element: ET.Element,
                state: str) -> None:
    """One shape group, classed by kind and state, its figure chosen by the semantic element's tag."""
    name = element.get("name", "") if element is not None else ""
    if tag in ("participant", "lane"):
        group = _sub(svg, "g", class_=f"shape {'pool' if tag == 'participant' else 'lane'}{state}")
        group.set("data-element-id", ref)
        _sub(group, "rect", x=box.x, y=box.y, width=box.width, height=box.height)
        _vertical_name(group, name, box)
        return
    kind = "task" if tag in TASKS else "event" if tag in EVENTS else "gateway" if tag.endswith("Gateway") else "other"
    group = _sub(svg, "g", class_=f"shape {kind}{' end' if tag == 'endEvent' else ''}{state}")
    group.set("data-element-id", ref)
    if kind == "task":
        _sub(group, "rect", x=box.x, y=box.y, width=box.width, height=box.height, rx=10)
        _wrapped(group, name, box.cx, box.cy, box.width - 10)
    elif kind == "event":
        _event(group, tag, element, box)
        _outside_label(group, name, box, di_element)
    elif kind == "gateway":
        _gateway(group, tag, box)
        _outside_label(group, name, box, di_element)
    else:
        _sub(group, "rect", x=box.x, y=box.y, width=box.width, height=box.height, fill="none")
        _wrapped(group, name, box.cx, box.cy, box.width)


def _event(group: ET.Element, tag: str, element: ET.Element | None, box: Box) -> None:
    """A circle; doubled for intermediate and boundary events, with a clock for timers."""
    radius = min(box.width, box.height) / 2
    _sub(group, "circle", class_="outline", cx=box.cx, cy=box.cy, r=radius)
    if tag in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
        _sub(group, "circle", cx=box.cx, cy=box.cy, r=radius - 3)
    if element is not None and element.find("bpmn:timerEventDefinition", NS) is not None:
        _sub(group, "circle", cx=box.cx, cy=box.cy, r=radius - 7)
        _sub(group, "path", class_="mark", d=f"M {box.cx:g} {box.cy - radius + 9:g} L {box.cx:g} {box.cy:g} "
                                             f"L {box.cx + radius / 3:g} {box.cy:g}")


def _gateway(group: ET.Element, tag: str, box: Box) -> None:
    """A diamond, marked X when exclusive and + when parallel."""
    corners = ((box.cx, box.y), (box.x + box.width, box.cy), (box.cx, box.y + box.height), (box.x, box.cy))
    _sub(group, "polygon", points=" ".join(f"{x:g},{y:g}" for x, y in corners))
    d = box.width / 5
    if tag == "exclusiveGateway":
        mark = f"M {box.cx - d:g} {box.cy - d:g} L {box.cx + d:g} {box.cy + d:g} M {box.cx + d:g} {box.cy - d:g} " \
               f"L {box.cx - d:g} {box.cy + d:g}"
    elif tag == "parallelGateway":
        mark = f"M {box.cx:g} {box.cy - d:g} L {box.cx:g} {box.cy + d:g} M {box.cx - d:g} {box.cy:g} " \
               f"L {box.cx + d:g} {box.cy:g}"
    else:
        return
    _sub(group, "path", class_="mark", d=mark)


def _outside_label(group: ET.Element, name: str, box: Box, di_element: ET.Element) -> None:
    """An event's or gateway's name: at its BPMNLabel bounds, else below the shape."""
    if not name:
        return
    label = _label_box(di_element)
    if label is not None:
        _wrapped(group, name, label.cx, label.cy, max(label.width, 60))
    else:
        _wrapped(group, name, box.cx, box.y + box.height + FONT + 2, 100)


def _draw_edge(svg: ET.Element, flow: ET.Element | None, points: list[tuple[float, float]],
               di_element: ET.Element) -> None:
    """A sequence flow: an arrowed polyline, its name at its BPMNLabel bounds, else by its middle segment."""
    if len(points) < 2:
        return
    group = _sub(svg, "g", class_="edge")
    group.set("data-element-id", flow.get("id", "") if flow is not None else "")
    _sub(group, "polyline", class_="flow", points=" ".join(f"{x:g},{y:g}" for x, y in points))
    name = flow.get("name", "") if flow is not None else ""
    if name:
        label = _label_box(di_element)
        (x1, y1), (x2, y2) = points[(len(points) - 1) // 2: (len(points) - 1) // 2 + 2]
        x, y = (label.cx, label.cy) if label is not None else ((x1 + x2) / 2 + 4, (y1 + y2) / 2 - 6)
        _wrapped(group, name, x, y, label.width if label is not None else 90)


def _char_width(char: str) -> float:
    """Approximate advance at 12px: about 7px for Latin text, a full em for CJK."""
    return FONT * 0.58 if ord(char) < 0x2E80 else FONT


def _lines(text: str, width: float) -> Iterator[str]:
    """Break text to fit `width`: at spaces where there are any, between any two CJK characters."""
    line, used = "", 0.0
    for char in text:
        size = _char_width(char)
        if line and used + size > width:
            yield line.rstrip()
            line, used = "", 0.0
            if char == " ":
                continue
        line += char
        used += size
    if line:
        yield line


def _wrapped(parent: ET.Element, text: str, cx: float, cy: float, width: float) -> None:
    """Centred text at (cx, cy), one tspan per line wrapped to `width`."""
    if not text:
        return
    lines = list(_lines(text, max(width, FONT * 2)))
    top = cy - (len(lines) - 1) * (FONT + 2) / 2 + FONT / 3
    node = _sub(parent, "text", x=cx, y=top, text_anchor="middle")
    for index, line in enumerate(lines):
        span = _sub(node, "tspan", x=cx, dy=0 if index == 0 else FONT + 2)
        span.text = line


def _vertical_name(group: ET.Element, name: str, box: Box) -> None:
    """A pool's or lane's name, turned to read upwards in the band at its left edge."""
    if not name:
        return
    x, y = box.x + 15, box.cy
    node = _sub(group, "text", x=x, y=y, text_anchor="middle", transform=f"rotate(-90 {x:g} {y:g})")
    node.text = name
