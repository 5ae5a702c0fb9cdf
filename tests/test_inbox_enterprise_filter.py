"""The inbox's enterprise filter (issue #20's speed): a search box by name or pinyin initials, not a list of every
enterprise in the zone, so the page stays fast and shows no enterprise the user does not oversee."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import Zone
from helpers import report
from sqlalchemy.orm import Session, sessionmaker
from web_support import make_app, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _codes(page: str) -> set[str]:
    return {code for code in ("E1单位", "E2单位") if code in page.split("<ul class=\"tasks\">", 1)[-1]}


def test_office_filters_by_name_or_initials_and_the_tab_scope_still_holds(factory: sessionmaker[Session],
                                                                        zone: Zone, tmp_path: Path) -> None:
    """Part of the name or of its pinyin initials lists that enterprise's tasks only; the id filter (links) still
    works; a department searching another department's enterprise finds nothing of it."""
    report(factory, zone.principal, zone.enterprise_id, NOW, hazard_level="general")
    report(factory, zone.outsider, zone.other_enterprise_id, NOW, hazard_level="general")
    office = make_app(factory, tmp_path, NOW).test_client()
    sign_in(office, "office")
    assert _codes(office.get("/inbox?tab=watch").get_data(as_text=True)) == {"E1单位", "E2单位"}
    page = office.get("/inbox?tab=watch&enterprise_text=E1").get_data(as_text=True)
    assert _codes(page) == {"E1单位"}
    assert 'name="enterprise_text" value="E1"' in page and f'<option value="{zone.enterprise_id}"' not in page
    assert _codes(office.get("/inbox?tab=watch&enterprise_text=e2dw").get_data(as_text=True)) == {"E2单位"}  # E2 单位
    assert _codes(office.get(f"/inbox?tab=watch&enterprise={zone.other_enterprise_id}").get_data(as_text=True)) \
        == {"E2单位"}
    department = make_app(factory, tmp_path, NOW).test_client()
    sign_in(department, "dept")
    assert _codes(department.get("/inbox?tab=watch&enterprise_text=E2").get_data(as_text=True)) == set()
    assert _codes(department.get("/inbox?tab=watch&enterprise_text=E1").get_data(as_text=True)) == {"E1单位"}


def test_hostile_search_text_is_literal_and_escaped(factory: sessionmaker[Session], zone: Zone,
                                                    tmp_path: Path) -> None:
    """LIKE wildcards match only themselves; markup is echoed escaped; an overlong text is cut, not an error."""
    report(factory, zone.principal, zone.enterprise_id, NOW, hazard_level="general")
    office = make_app(factory, tmp_path, NOW).test_client()
    sign_in(office, "office")
    for text in ("%", "_", "E%1"):
        response = office.get("/inbox", query_string={"tab": "watch", "enterprise_text": text})
        assert response.status_code == 200 and _codes(response.get_data(as_text=True)) == set()
    page = office.get("/inbox", query_string={"tab": "watch", "enterprise_text": '"><script>x()</script>'})
    assert page.status_code == 200 and "<script>x()" not in page.get_data(as_text=True)
    assert office.get("/inbox", query_string={"tab": "watch", "enterprise_text": "E" * 5000}).status_code == 200
