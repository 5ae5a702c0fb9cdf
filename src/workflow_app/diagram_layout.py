"""A simple automatic layout for a model drawn without BPMNDI (written by hand or by a generator).

Flow nodes go into columns by their longest distance from a start (loops ignored), one row per node of a
column; sequence flows run from the right of their source to the left of their target; boundary events sit
on their host's lower edge. Enough to read the process, not a modeller's drawing. Iterative throughout: a
model of thousands of steps must not exhaust the stack.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SIZES = {"event": (36.0, 36.0), "gateway": (50.0, 50.0), "activity": (100.0, 80.0)}
COLUMN, ROW = 160.0, 120.0


def laid_out_plane(root: ET.Element) -> ET.Element:
    """A BPMNPlane for the document's first process, with a shape per flow node and an edge per flow."""
    plane = ET.Element(f"{{{BPMNDI}}}BPMNPlane")
    process = root.find(f"{{{BPMN}}}process")
    if process is None:
        return plane
    nodes = {e.get("id", ""): e for e in process if _kind(e) and e.get("id")}
    flows = [f for f in process.iter(f"{{{BPMN}}}sequenceFlow")
             if f.get("sourceRef") in nodes and f.get("targetRef") in nodes]
    placed = {node_id: nodes[node_id] for node_id in nodes if _local(nodes[node_id]) != "boundaryEvent"}
    boxes = _place(placed, flows)
    for node_id, element in nodes.items():
        if node_id not in boxes:  # a boundary event: on its host's lower edge
            host = boxes.get(element.get("attachedToRef", ""))
            boxes[node_id] = (host[0] + host[2] - 30, host[1] + host[3] - 18, 36.0, 36.0) if host else (0, 0, 36, 36)
    for node_id, (x, y, width, height) in boxes.items():
        shape = ET.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", {"id": f"{node_id}_di", "bpmnElement": node_id})
        ET.SubElement(shape, f"{{{DC}}}Bounds", {"x": f"{x:g}", "y": f"{y:g}", "width": f"{width:g}",
                                                 "height": f"{height:g}"})
    for flow in flows:
        sx, sy, sw, sh = boxes[flow.get("sourceRef", "")]
        tx, ty, _tw, th = boxes[flow.get("targetRef", "")]
        edge = ET.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", {"id": f"{flow.get('id')}_di",
                                                               "bpmnElement": flow.get("id", "")})
        start, end = (sx + sw, sy + sh / 2), (tx, ty + th / 2)
        middle_x = (start[0] + end[0]) / 2 if end[0] > start[0] else start[0] + 20
        for x, y in (start, (middle_x, start[1]), (middle_x, end[1]), end):
            ET.SubElement(edge, f"{{{DI}}}waypoint", {"x": f"{x:g}", "y": f"{y:g}"})
    return plane


def _place(nodes: dict[str, ET.Element], flows: list[ET.Element]) -> dict[str, tuple[float, float, float, float]]:
    """Column = longest path from a node without incoming flows, back edges (loops) dropped."""
    outgoing: dict[str, list[str]] = defaultdict(list)
    incoming: dict[str, int] = defaultdict(int)
    for flow in flows:
        source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
        if source in nodes and target in nodes:
            outgoing[source].append(target)
    forward = _without_back_edges(list(nodes), outgoing)
    for targets in forward.values():
        for target in targets:
            incoming[target] += 1
    column = {node_id: 0 for node_id in nodes}
    ready = [node_id for node_id in nodes if incoming[node_id] == 0]
    while ready:  # Kahn's order over the acyclic rest: each node after all its predecessors
        node_id = ready.pop()
        for target in forward[node_id]:
            column[target] = max(column[target], column[node_id] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    rows: dict[int, int] = defaultdict(int)
    boxes = {}
    for node_id in nodes:  # document order within a column
        width, height = SIZES[_kind(nodes[node_id])]
        row = rows[column[node_id]]
        rows[column[node_id]] += 1
        boxes[node_id] = (column[node_id] * COLUMN + (100 - width) / 2, row * ROW + (80 - height) / 2, width, height)
    return boxes


def _without_back_edges(order: list[str], outgoing: dict[str, list[str]]) -> dict[str, list[str]]:
    """The flows minus those closing a loop (an edge to a node still on the depth-first path)."""
    forward: dict[str, list[str]] = defaultdict(list)
    state: dict[str, int] = {}  # 1 on the path, 2 finished
    for root in order:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(outgoing[root]))]
        while stack:
            node_id, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                state[node_id] = 2
                stack.pop()
            elif state.get(target) != 1:
                forward[node_id].append(target)
                if target not in state:
                    state[target] = 1
                    stack.append((target, iter(outgoing[target])))
    return forward


def _local(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _kind(element: ET.Element) -> str:
    """event, gateway or activity for a flow node; "" for anything else (flows, lanes, data)."""
    tag = _local(element)
    if tag.endswith("Event"):
        return "event"
    if tag.endswith("Gateway"):
        return "gateway"
    if tag.endswith("Task") or tag in ("task", "callActivity", "subProcess", "transaction"):
        return "activity"
    return ""
