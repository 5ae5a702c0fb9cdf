"""Small SVG bar charts drawn on the server: no JavaScript, they print as they show."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 260, 40, 60, 24


def bar_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[int]], colours: Sequence[str]) -> str:
    """Grouped bars: one group per label, one bar per series; a legend on top."""
    ET.register_namespace("", SVG_NS)
    svg = ET.Element(f"{{{SVG_NS}}}svg", {"viewBox": f"0 0 {WIDTH} {HEIGHT}", "width": "100%", "role": "img",
                                          "aria-label": title})
    ET.SubElement(svg, f"{{{SVG_NS}}}title").text = title
    peak = max([1, *(v for values in series.values() for v in values)])
    plot_h, group_w = HEIGHT - TOP - BOTTOM, (WIDTH - LEFT) / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for s_index, (name, values) in enumerate(series.items()):
        colour = colours[s_index % len(colours)]
        _text(svg, LEFT + s_index * 110, 14, f"■ {name}", colour, "start")
        for l_index, value in enumerate(values):
            height = plot_h * value / peak
            x = LEFT + l_index * group_w + group_w * 0.1 + s_index * bar_w
            bar = ET.SubElement(svg, f"{{{SVG_NS}}}rect", {"x": f"{x:.1f}", "y": f"{TOP + plot_h - height:.1f}",
                                                           "width": f"{bar_w:.1f}", "height": f"{height:.1f}",
                                                           "fill": colour})
            caption = labels[l_index] if name == labels[l_index] else f"{labels[l_index]} {name}"
            bar.append(_title(f"{caption}: {value}"))
            if value:
                _text(svg, x + bar_w / 2, TOP + plot_h - height - 3, str(value), "#333", "middle", 9)
    for l_index, label in enumerate(labels):
        _text(svg, LEFT + (l_index + 0.5) * group_w, HEIGHT - BOTTOM + 14, label, "#333", "middle", 10)
    ET.SubElement(svg, f"{{{SVG_NS}}}line", {"x1": str(LEFT), "x2": str(WIDTH), "y1": str(TOP + plot_h),
                                             "y2": str(TOP + plot_h), "stroke": "#999"})
    return ET.tostring(svg, encoding="unicode")


def _title(text: str) -> ET.Element:
    element = ET.Element(f"{{{SVG_NS}}}title")
    element.text = text
    return element


def _text(parent: ET.Element, x: float, y: float, text: str, fill: str, anchor: str, size: int = 11) -> None:
    node = ET.SubElement(parent, f"{{{SVG_NS}}}text", {"x": f"{x:.1f}", "y": f"{y:.1f}", "fill": fill,
                                                       "text-anchor": anchor, "font-size": str(size)})
    node.text = text
