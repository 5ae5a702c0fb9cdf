"""Small SVG charts drawn on the server (bars, stacked bars, a map of dots): no JavaScript, they print as they show."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

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


BAR_WIDTH, BAR_HEIGHT, ROW_HEIGHT, LABEL_SIZE = 360, 18, 42, 13


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar: its name (for the legend and the tooltip), colour and text colour on it."""

    name: str
    fill: str
    ink: str


def stacked_bars(title: str, rows: Sequence[tuple[str, Sequence[int]]], segments: Sequence[Segment],
                 unit: Callable[[int], str] = str) -> str:
    """One horizontal bar per row (its label above it), made of one segment per entry of `segments` sized by
    the row's count; bars share one scale, so lengths compare; counts inside segments wide enough, the
    row's total after its bar. `unit(n)` words a count for the tooltips ("3 家")."""
    peak = max([1, *(sum(counts) for _, counts in rows)])
    track = BAR_WIDTH - 8 - _text_width(f"{peak:,}", LABEL_SIZE)
    height = max(len(rows), 1) * ROW_HEIGHT + 8
    svg = _svg(title, BAR_WIDTH, height)
    for index, (label, counts) in enumerate(rows):
        top = index * ROW_HEIGHT + 4
        _text(svg, 0, top + LABEL_SIZE, label, "#212529", "start", LABEL_SIZE)
        x, bar_y = 0.0, top + LABEL_SIZE + 5
        for segment, count in zip(segments, counts, strict=True):
            if not count:
                continue
            width = track * count / peak
            rect = ET.SubElement(svg, f"{{{SVG_NS}}}rect", {"x": f"{x:.1f}", "y": f"{bar_y:.1f}",
                                                            "width": f"{width:.1f}", "height": str(BAR_HEIGHT),
                                                            "fill": segment.fill})
            rect.append(_title(f"{label} · {segment.name}: {unit(count)}"))
            if width >= _text_width(str(count), LABEL_SIZE - 1) + 6:
                _text(svg, x + width / 2, bar_y + BAR_HEIGHT - 6, str(count), segment.ink, "middle", LABEL_SIZE - 1)
            x += width
        _text(svg, x + 4, bar_y + BAR_HEIGHT - 6, f"{sum(counts):,}", "#212529", "start", LABEL_SIZE)
    return ET.tostring(svg, encoding="unicode")


@dataclass(frozen=True)
class Dot:
    """A place on the map: its tooltip, colour, whether marked (a ring, larger) and where it links (or None)."""

    latitude: float
    longitude: float
    title: str
    fill: str
    marked: bool = False
    href: str | None = None


MAP_WIDTH, MAP_MAX_HEIGHT, MAP_MIN_HEIGHT, MAP_PAD, DOT, MARKED_DOT = 480, 480, 140, 16, 6, 9


def dot_map(title: str, dots: Sequence[Dot]) -> str:
    """The dots placed by an equirectangular projection fitted to their bounding box: a degree of longitude
    is cos(mid latitude) of a degree of latitude, so shapes keep their aspect. No tiles: a plain frame.
    Every point at one place (or a single one) sits in the middle; marked dots are drawn last, on top."""
    if dots:
        south, north = min(d.latitude for d in dots), max(d.latitude for d in dots)
        west, east = min(d.longitude for d in dots), max(d.longitude for d in dots)
    else:
        south = north = west = east = 0.0
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x, span_y = (east - west) * squeeze, north - south
    inner_w = MAP_WIDTH - 2 * MAP_PAD
    scales = [s for s in ((inner_w / span_x) if span_x > 0 else 0, (MAP_MAX_HEIGHT - 2 * MAP_PAD) / span_y
                          if span_y > 0 else 0) if s]
    scale = min(scales) if scales else 0.0
    height = round(min(MAP_MAX_HEIGHT, max(MAP_MIN_HEIGHT, span_y * scale + 2 * MAP_PAD)))
    left = (MAP_WIDTH - span_x * scale) / 2
    top = (height - span_y * scale) / 2
    # written as text, not ElementTree: a large zone has thousands of dots (a third of the time); every text and
    # attribute value that is not a number of ours goes through escape(). With links it is a graphics document,
    # not an image: an image's content is presentational, and links inside one are "nested interactive"
    role = "graphics-document" if any(d.href is not None for d in dots) else "img"
    parts = [f'<svg xmlns="{SVG_NS}" viewBox="0 0 {MAP_WIDTH} {height}" width="100%" role="{role}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
             f'<rect x="0.5" y="0.5" width="{MAP_WIDTH - 1}" height="{height - 1}" fill="#f8f9fa" stroke="#adb5bd"/>'
             '<g stroke="#212529">']
    for dot in sorted(dots, key=lambda d: d.marked):
        x = left + (dot.longitude - west) * squeeze * scale
        y = top + (north - dot.latitude) * scale
        size = f'r="{MARKED_DOT}" stroke-width="3"' if dot.marked else f'r="{DOT}"'
        circle = f'<circle cx="{x:.1f}" cy="{y:.1f}" {size} fill="{escape(dot.fill)}"'
        tooltip = f"<title>{escape(dot.title)}</title>"
        if dot.href is None:
            parts.append(f"{circle}>{tooltip}</circle>")
        else:  # the link's name is its title; reached by pointer, the keyboard has the lists below the map
            parts.append(f'<a href="{escape(dot.href)}" tabindex="-1">{tooltip}{circle}/></a>')
    parts.append("</g></svg>")
    return "".join(parts)


def _svg(title: str, width: int, height: int) -> ET.Element:
    ET.register_namespace("", SVG_NS)
    svg = ET.Element(f"{{{SVG_NS}}}svg", {"viewBox": f"0 0 {width} {height}", "width": "100%", "role": "img",
                                          "aria-label": title})
    ET.SubElement(svg, f"{{{SVG_NS}}}title").text = title
    return svg


def _text_width(text: str, size: float) -> float:
    """About how wide `text` is drawn: a CJK character is square, a Latin one a little over half as wide."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.6 for c in text)
