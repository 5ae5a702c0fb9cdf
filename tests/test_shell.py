"""The phone shell (issue #20): the header's menu works without JavaScript, the bottom tab bar is the
enterprise's alone and marks the page it is on, every form control has a name a screen reader reads, and
list tables name each cell's column for the card layout of narrow screens."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from helpers import open_task, report
from sqlalchemy.orm import Session, sessionmaker
from web_support import make_app, sign_in

from workflow_app.web.public_views import limiter

CSS = Path(__file__).resolve().parents[1] / "static" / "app.css"
SKIPPED_TYPES = {"hidden", "submit", "button", "reset", "image"}
TABS = ["/", "/hazards/new", "/checklists", "/enterprises/{own}"]


class Page(HTMLParser):
    """What the checks need of a page: its form controls, labels, tab bar links, menu and list tables' cells."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0
        self.in_tabbar = False
        self.tabs: list[dict[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.list_tables = 0  # list tables seen so far
        self.unlabelled_cells: list[str] = []
        self.in_list_body = False
        self.headed = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "label":
            self.open_labels += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        elif tag in ("input", "select", "textarea") and found.get("type") not in SKIPPED_TYPES:
            self.controls.append({**found, "tag": tag, "in_label": "yes" if self.open_labels else None})
        elif tag == "nav" and "tabbar" in (found.get("class") or ""):
            self.in_tabbar = True
        elif tag == "a" and self.in_tabbar:
            self.tabs.append(found)
        elif tag == "table":
            self.list_tables += "list" in (found.get("class") or "").split()
            self.headed = False
        elif tag == "thead":
            self.headed = True
        elif tag == "tbody" and self.list_tables and self.headed:  # a table without headings has nothing to say
            self.in_list_body = True
        elif tag == "td" and self.in_list_body and "colspan" not in found and "data-label" not in found:
            self.unlabelled_cells.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels = max(0, self.open_labels - 1)
        elif tag == "nav":
            self.in_tabbar = False
        elif tag == "tbody":
            self.in_list_body = False

    def unnamed(self) -> list[str]:
        """Form controls with neither a <label for>, an enclosing label, aria-label nor aria-labelledby."""
        return [f"{c['tag']} name={c.get('name')}" for c in self.controls
                if not (c["in_label"] or c.get("aria-label") or c.get("aria-labelledby") or c.get("title")
                        or (c.get("id") and c["id"] in self.label_for))]


def parse(client: FlaskClient, path: str) -> Page:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    page = Page()
    page.feed(response.get_data(as_text=True))
    return page


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    limiter._events.clear()
    return make_app(factory, tmp_path, T0)


def _client(app: Flask, username: str | None) -> FlaskClient:
    client = app.test_client()
    if username:
        sign_in(client, username)
    return client


def test_the_menu_is_a_details_element_with_the_notices_and_sign_out_beside_it(app: Flask, zone: Zone) -> None:
    """One header line: product, notices, sign-out and a <details> menu that opens without JavaScript."""
    page = parse(_client(app, "dept"), "/inbox")
    tags = [(tag, attrs.get("class")) for tag, attrs in page.tags]
    header = tags[tags.index(("header", "top")):tags.index(("main", None))]
    assert ("details", "menu") in header and ("summary", None) in header
    assert ("a", "notices") in header and ("form", "inline logout") in header
    assert header.index(("a", "notices")) < header.index(("details", "menu"))
    assert not page.tabs  # a department has no tab bar


@pytest.mark.parametrize(("path", "current"), [("/", 0), ("/inbox", 0), ("/hazards/new", 1), ("/checklists", 2),
                                               ("/enterprises/{own}", 3), ("/password", 3), ("/ledger", None)])
def test_the_enterprise_tab_bar_marks_the_page_it_is_on(app: Flask, zone: Zone, path: str,
                                                        current: int | None) -> None:
    page = parse(_client(app, "boss"), path.format(own=zone.enterprise_id))
    assert [tab.get("href") for tab in page.tabs] == [t.format(own=zone.enterprise_id) for t in TABS]
    marked = [i for i, tab in enumerate(page.tabs) if tab.get("aria-current") == "page"]
    assert marked == ([] if current is None else [current])


def test_another_enterprise_file_is_not_mine(app: Flask, zone: Zone) -> None:
    """我的 is the user's own enterprise: an office user looking at one has no tab bar, and the tab bar never
    marks 我的 on a file that is not the user's own."""
    assert not parse(_client(app, "office"), f"/enterprises/{zone.enterprise_id}").tabs
    assert parse(_client(app, "outsider"), "/").tabs[0].get("aria-current") == "page"


PAGES = {
    None: ["/login", "/report", "/report/status"],
    "boss": ["/", "/inbox", "/ledger", "/hazards/new", "/hazard", "/task", "/enterprises/{own}", "/checklists",
             "/cases", "/delegations", "/people", "/tokens", "/password", "/notices", "/listings",
             "/standards"],
    "dept": ["/inbox", "/ledger?status=awaiting_plan&overdue=1", "/enterprises", "/enterprises/{own}", "/hazard",
             "/inspections", "/inspections/new", "/inspection-plans", "/listings", "/people", "/delegations",
             "/checklists/new"],
    "office": ["/inbox", "/ledger", "/enterprises", "/enterprises/{own}/edit", "/people", "/organisations/roster",
               "/holidays", "/admin/models", "/admin/incidents", "/notices", "/tokens", "/delegations"],
}


@pytest.mark.parametrize("username", list(PAGES))
def test_every_form_control_has_a_name_and_every_list_cell_its_column(app: Flask, factory: sessionmaker[Session],
                                                                       zone: Zone, username: str | None) -> None:
    """Each <input>/<select>/<textarea> (but hidden fields and buttons) is named by a label or aria-label; each
    cell of a list table's body says its column (data-label) for the narrow screens' cards."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    client = _client(app, username)
    for path in PAGES[username]:
        path = path.replace("/hazard", f"/hazards/{hazard_id}", 1) if path == "/hazard" else path
        path = f"/tasks/{task.task_id}" if path == "/task" else path.format(own=zone.enterprise_id)
        page = parse(client, path)
        assert not page.unnamed(), (path, page.unnamed())
        assert not page.unlabelled_cells, (path, page.unlabelled_cells)


def test_status_colours_read_at_four_and_a_half_to_one() -> None:
    """The chips and badges' text on their background, from the stylesheet's own colours (WCAG 2 contrast)."""
    variables = dict(line.strip().rstrip(";").split(": ", 1) for line in _root_declarations())
    pairs = {"red": ("--red", "#fff"), "orange": ("--orange", "#fff"), "yellow": ("--yellow", "--on-yellow"),
             "green": ("--green", "#fff"), "blue": ("--blue", "#fff"), "grey": ("--grey", "--on-grey"),
             "amber": ("--amber", "#222")}
    for name, (background, text) in pairs.items():
        ratio = _contrast(variables.get(background, background), variables.get(text, text))
        assert ratio >= 4.5, (name, ratio)


def _root_declarations() -> list[str]:
    css = CSS.read_text(encoding="utf-8")
    block = css[css.index(":root {") + len(":root {"):css.index("}", css.index(":root {"))]
    return [part for line in block.splitlines() for part in line.split("/*")[0].split(";")
            if part.strip().startswith("--")]


def _contrast(first: str, second: str) -> float:
    def luminance(colour: str) -> float:
        digits = colour.lstrip("#")
        digits = "".join(c * 2 for c in digits) if len(digits) == 3 else digits
        channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)
