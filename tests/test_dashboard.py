"""The dashboard (数据看板): titled charts with totals and a data table, the four-colour stacked bars per town,
the map of enterprises drawn from their coordinates, in the viewer's language and scope."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from conftest import T0, _org, _user
from helpers import report
from web_support import csrf, make_app, sign_in

from workflow_app.reports.charts import Dot, dot_map
from workflow_app.reports.dashboard import map_places, risk_by_town
from workflow_app.services import demo
from workflow_app.services.evidence import EvidenceStore
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, Organisation

SVG = "{http://www.w3.org/2000/svg}"
CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")
HOSTILE = "<script>alert(1)</script>化工"
PLAN_DATE = datetime(2023, 5, 19, 1, 0, tzinfo=UTC)


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section class="card chart chart-{name}".*?</section>', page, re.S)
    assert match, name
    return match.group(0)


def _svg(section: str) -> ET.Element:
    return ET.fromstring(re.search(r"<svg.*?</svg>", section, re.S).group(0))


def _dots(svg: ET.Element) -> dict[str, tuple[ET.Element, str | None]]:
    """The map's dots by their title (on the dot, or on the link around it): the circle and its link."""
    linked = {a.find(f"{SVG}title").text: (a.find(f"{SVG}circle"), a.get("href")) for a in svg.iter(f"{SVG}a")}
    bare = {c.find(f"{SVG}title").text: (c, None) for c in svg.iter(f"{SVG}circle")
            if c.find(f"{SVG}title") is not None}
    return linked | bare


def _table(section: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", section, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture
def graded(factory, zone) -> dict[str, int]:
    """Beside the zone's T1 (E1 industry, E2 transport): a second town T0 (its code sorts first) with three
    enterprises of the industry sector, coloured and placed; one enterprise of no town; one closed one."""
    with transaction(factory) as s:
        e1, e2 = s.get(Organisation, zone.enterprise_id), s.get(Organisation, zone.other_enterprise_id)
        e1.risk_colour, e1.latitude, e1.longitude = "red", Decimal("30.5"), Decimal("114.3")
        e2.risk_colour = "blue"  # no coordinates
        town = _org(s, "T0", "town")
        town.name = "滨江街道"
        ids = {"E1": e1.id, "E2": e2.id}
        for code, colour, lat, lon in (("E3", "red", "30.6", "114.4"), ("E4", "yellow", "30.55", "114.35"),
                                       ("E5", None, "30.45", "114.25")):
            org = _org(s, code, "enterprise", sector_code="industry", town_id=town.id, risk_colour=colour,
                       latitude=Decimal(lat), longitude=Decimal(lon))
            ids[code] = org.id
        s.get(Organisation, ids["E3"]).name = HOSTILE
        ids["E6"] = _org(s, "E6", "enterprise", sector_code="transport", risk_colour="orange").id  # no town
        ids["E7"] = _org(s, "E7", "enterprise", sector_code="industry", town_id=town.id, risk_colour="red",
                         status="closed", latitude=Decimal("31"), longitude=Decimal("115")).id
        _user(s, "town0", "town", town)
    return ids


def test_the_stacked_bars_count_each_towns_enterprises_by_colour(factory, zone, graded, tmp_path) -> None:
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    page = office.get("/dashboard").get_data(as_text=True)
    risk = _section(page, "risk")
    assert "<h2" in risk and "各镇街企业风险四色分布" in risk
    # towns by code (T0 before T1), the enterprises of no town last; columns 红 橙 黄 蓝 未评定 合计
    assert _table(risk) == [["滨江街道", "1", "0", "1", "0", "1", "3"], ["T1单位", "1", "0", "0", "1", "0", "2"],
                            ["未分镇街", "0", "1", "0", "0", "0", "1"], ["合计", "2", "1", "1", "1", "1", "6"]]
    assert re.search(r"合计 <strong>6</strong>", risk)  # the closed E7 is left out
    segments = [t.text for t in _svg(risk).iter(f"{SVG}title")][1:]
    assert segments == ["滨江街道 · 重大风险（红）: 1 家", "滨江街道 · 一般风险（黄）: 1 家",
                        "滨江街道 · 未评定: 1 家", "T1单位 · 重大风险（红）: 1 家", "T1单位 · 低风险（蓝）: 1 家",
                        "未分镇街 · 较大风险（橙）: 1 家"]
    assert _svg(risk).get("role") == "img" and "合计 6 家" in _svg(risk).get("aria-label")
    legend = re.search(r'<ul class="chart-legend">(.*?)</ul>', risk, re.S).group(1)
    assert [re.sub(r"<[^>]+>", "", li) for li in re.findall(r"<li>(.*?)</li>", legend)] == [
        "重大风险（红）", "较大风险（橙）", "一般风险（黄）", "低风险（蓝）", "未评定"]
    for name in ("weekly", "towns", "departments", "map"):
        section = _section(page, name)
        assert "<h2" in section and 'class="chart-totals"' in section and "数据表" in section
        drawing = _svg(section)
        assert drawing.get("role") in ("img", "graphics-document") and drawing.find(f"{SVG}title") is not None
    with transaction(factory) as s:  # the figures come from one grouped query
        rows = risk_by_town(s, None)
    assert [(r.name, sum(r.counts.values())) for r in rows] == [("滨江街道", 3), ("T1单位", 2), (None, 1)]


def test_the_english_dashboard_has_english_titles_and_legends(factory, zone, graded, tmp_path) -> None:
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    office.post("/lang/en", data={"csrf_token": csrf(office, "/inbox")})
    page = office.get("/dashboard").get_data(as_text=True)
    assert "Risk colours of enterprises by town" in page and "Map of enterprises" in page
    for legend in re.findall(r'<ul class="chart-legend">(.*?)</ul>', page, re.S):
        assert not CJK.search(legend), legend
    for name in ("weekly", "towns", "departments", "risk", "map"):
        section = _section(page, name)
        headings = re.findall(r"<h[23][^>]*>(.*?)</h[23]>", section) + re.findall(r"<th scope=\"col\">(.*?)</th>",
                                                                                  section)
        assert headings and not any(CJK.search(h) for h in headings), headings
        drawn_legends = [t.text for t in _svg(section).iter(f"{SVG}text") if (t.text or "").startswith("■")]
        assert not any(CJK.search(t) for t in drawn_legends), drawn_legends
        assert not CJK.search(_svg(section).get("aria-label").split(":")[0])
    assert "Major risk (red)" in page and "Not graded" in page and "Total" in page
    assert "No town" in page and "Enterprises without coordinates: 2" in page


def test_the_map_places_a_dot_per_enterprise_with_coordinates_and_lists_the_others(factory, zone, graded,
                                                                                   tmp_path) -> None:
    report(factory, zone.principal, zone.enterprise_id, T0)  # an open major hazard of E1
    closed = report(factory, zone.principal, zone.enterprise_id, T0)
    with transaction(factory) as s:
        s.get(Hazard, closed).status = "closed"
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    page = office.get("/dashboard").get_data(as_text=True)
    section = _section(page, "map")
    svg = _svg(section)
    dots = list(svg.iter(f"{SVG}circle"))
    assert len(dots) == 4  # E1, E3, E4, E5; not E2 and E6 (no coordinates) nor the closed E7
    titles = {t: c for t, (c, _) in _dots(svg).items()}
    assert len(titles) == 4 and svg.get("role") == "graphics-document"  # links: not a presentational image
    e1 = titles["E1单位 · 重大风险（红） · 未销号重大事故隐患 1 项"]
    assert e1.get("r") == "9" and e1.get("stroke-width") == "3" and e1.get("fill") == "#c92a2a"
    assert titles["E5单位 · 未评定"].get("r") == "6"
    links = {href for _, href in _dots(svg).values()}
    assert links == {f"/enterprises/{graded[c]}" for c in ("E1", "E3", "E4", "E5")}
    assert office.get(f"/enterprises/{graded['E3']}").status_code == 200
    # north is up, east is right, within the drawing
    width, height = (float(v) for v in svg.get("viewBox").split()[2:])
    xy = {t.split(" · ")[0]: (float(c.get("cx")), float(c.get("cy"))) for t, c in titles.items()}
    assert xy[HOSTILE][1] < xy["E1单位"][1] < xy["E5单位"][1] and xy["E5单位"][0] < xy["E1单位"][0] < xy[HOSTILE][0]
    assert all(0 < x < width and 0 < y < height for x, y in xy.values())
    assert "未标注坐标的企业：2 家" in section
    unplaced = re.search(r'<div class="map-unplaced">(.*?)</div>', section, re.S).group(1)
    assert f'href="/enterprises/{graded["E2"]}"' in unplaced and "E6单位" in unplaced and "E1单位" not in unplaced
    assert "有未销号重大事故隐患的企业：1 家" in section
    assert _table(section)[-1] == ["合计", "4", "1", "2"]
    with transaction(factory) as s:
        assert sum(p.open_major for p in map_places(s, None)) == 1  # the closed one is not counted


def test_a_hostile_enterprise_name_is_text_on_the_map_and_in_its_lists(factory, zone, graded, tmp_path) -> None:
    with transaction(factory) as s:
        s.get(Organisation, graded["E6"]).name = '"><img src=x onerror=alert(2)>'
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    page = office.get("/dashboard").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;化工 · 重大风险（红）" in page  # the dot's title
    assert "&#34;&gt;&lt;img src=x" in page or "&quot;&gt;&lt;img src=x" in page  # in the list of no coordinates


def test_a_department_and_a_town_see_only_their_enterprises(factory, zone, graded, tmp_path) -> None:
    app = make_app(factory, tmp_path, T0)
    department = app.test_client()
    sign_in(department, "dept2")  # transport: E2 (no coordinates) and E6 (no town)
    page = department.get("/dashboard").get_data(as_text=True)
    section = _section(page, "map")
    assert not list(_svg(section).iter(f"{SVG}circle")) and "未标注坐标的企业：2 家" in section
    assert "图上还没有企业" in section and "E1单位" not in section
    assert _table(_section(page, "risk")) == [["T1单位", "0", "0", "0", "1", "0", "1"],
                                              ["未分镇街", "0", "1", "0", "0", "0", "1"],
                                              ["合计", "0", "1", "0", "1", "0", "2"]]
    industry = app.test_client()
    sign_in(industry, "dept")
    titles = list(_dots(_svg(_section(industry.get("/dashboard").get_data(as_text=True), "map"))))
    assert len(titles) == 4 and not any("E2单位" in t or "E6单位" in t for t in titles)
    town = app.test_client()
    sign_in(town, "town0")
    page = town.get("/dashboard").get_data(as_text=True)
    assert len(list(_svg(_section(page, "map")).iter(f"{SVG}circle"))) == 3
    assert [row[0] for row in _table(_section(page, "risk"))] == ["滨江街道", "合计"]


def test_the_dashboard_of_a_zone_without_enterprises(factory, tmp_path) -> None:
    with transaction(factory) as s:
        _user(s, "office", "office", _org(s, "OFFICE", "office"))
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    response = office.get("/dashboard")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "未标注坐标的企业：0 家" in page and "图上还没有企业" in page
    assert re.search(r"合计 <strong>0</strong>", _section(page, "risk"))


@pytest.mark.parametrize("places", [[], [(30.5, 114.3)], [(30.5, 114.3)] * 3, [(30.5, 114.3), (30.5, 114.4)],
                                    [(30.5, 114.3), (30.7, 114.3)], [(-89.9, -179.9), (89.9, 179.9)]])
def test_the_map_draws_any_number_of_dots_inside_its_frame(places) -> None:
    """None, one, all at one place, all on one parallel or one meridian, the whole globe: no division by zero,
    every dot inside the drawing."""
    svg = ET.fromstring(dot_map("图", [Dot(lat, lon, f"企业{n}", "#c92a2a") for n, (lat, lon) in enumerate(places)]))
    assert svg.get("role") == "img" and svg.get("aria-label") == "图"
    width, height = (float(v) for v in svg.get("viewBox").split()[2:])
    dots = list(svg.iter(f"{SVG}circle"))
    assert len(dots) == len(places)
    for dot in dots:
        assert 0 < float(dot.get("cx")) < width and 0 < float(dot.get("cy")) < height
    if len({p for p in places}) == 1:
        assert {(d.get("cx"), d.get("cy")) for d in dots} == {(f"{width / 2:.1f}", f"{height / 2:.1f}")}


def test_the_map_keeps_the_aspect_of_the_land(factory) -> None:
    """At 60° north a degree of longitude is half a degree of latitude: a square of 1° × 2° is drawn square."""
    svg = ET.fromstring(dot_map("图", [Dot(59.5, 10, "a", "#000"), Dot(60.5, 12, "b", "#000")]))
    (x1, y1), (x2, y2) = ((float(c.get("cx")), float(c.get("cy"))) for c in svg.iter(f"{SVG}circle"))
    assert abs(abs(x2 - x1) - abs(y2 - y1)) < 2


def test_the_demo_zone_shows_on_the_map(factory, tmp_path) -> None:
    """`workflow-app demo`: 22 of its 25 enterprises are placed in the zone, three are listed apart, and the
    major hazards it leaves open are marked."""
    assert demo.seed(factory, PLAN_DATE, EvidenceStore(tmp_path / "evidence"))
    office = make_app(factory, tmp_path, PLAN_DATE).test_client()
    sign_in(office, "office", demo.DEMO_PASSWORD)
    section = _section(office.get("/dashboard").get_data(as_text=True), "map")
    dots = list(_svg(section).iter(f"{SVG}circle"))
    assert len(dots) == 22 and "未标注坐标的企业：3 家" in section
    assert any(d.get("r") == "9" for d in dots) and {d.get("fill") for d in dots} >= {"#c92a2a", "#1971c2"}


def test_the_weekly_chart_counts_the_hazards_of_the_viewers_enterprises_only(factory, zone, tmp_path) -> None:
    report(factory, zone.principal, zone.enterprise_id, T0)  # E1: industry (dept), town T1
    app = make_app(factory, tmp_path, T0)
    found = {}
    for username in ("office", "dept", "dept2", "town"):
        client = app.test_client()
        sign_in(client, username)
        weeks = _table(_section(client.get("/dashboard").get_data(as_text=True), "weekly"))
        found[username] = sum(int(week[1]) for week in weeks)
    assert found == {"office": 1, "dept": 1, "dept2": 0, "town": 1}
