"""Each role's home (工作台, issue #20): my to-dos with due-soon and overdue counts on Shanghai dates, the
overseers' figures that the ledger lists alike, the office's missing filings, the enterprise's duties."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from conftest import Zone
from helpers import CAMPAIGN_2026, PLAN, complete, report
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from web_support import make_app, sign_in

from workflow_app.services import duties
from workflow_app.services.campaigns import start_campaign
from workflow_app.services.home import FILING_STEPS, TaskCounts, home, kpis, task_counts
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, InboxTask, Organisation, User

NOW = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # Thursday 2026-11-26 00:30 in Shanghai, still Wednesday in UTC
TODAY = date(2026, 11, 26)


def _due(factory: sessionmaker[Session], hazard_id: int, due: str) -> None:
    with transaction(factory) as s:
        s.execute(update(InboxTask).where(InboxTask.hazard_id == hazard_id, InboxTask.completed_at.is_(None))
                  .values(due_on=date.fromisoformat(due)))


def _user(factory: sessionmaker[Session], user: User) -> User:
    with transaction(factory) as s:
        found = s.get(User, user.id)
        assert found is not None
        s.expunge(found)
        return found


def _seed(factory: sessionmaker[Session], zone: Zone) -> list[int]:
    """Four hazards of E1 whose open enterprise tasks fall due yesterday, today, in 3 and in 4 days (Shanghai),
    and one of E2 due yesterday."""
    ids = [report(factory, zone.principal, zone.enterprise_id, NOW, hazard_level="general", found_on=f"2026-11-{d}")
           for d in ("23", "24", "02", "01")]
    for hazard_id, due in zip(ids, ("2026-11-25", "2026-11-26", "2026-11-29", "2026-11-30"), strict=True):
        _due(factory, hazard_id, due)
    other = report(factory, zone.outsider, zone.other_enterprise_id, NOW, hazard_level="general")
    _due(factory, other, "2026-11-25")
    return [*ids, other]


def test_enterprise_counts_only_its_own_with_shanghai_boundaries(factory: sessionmaker[Session], zone: Zone) -> None:
    """Yesterday in Shanghai is overdue, today to today + 3 days is due soon, + 4 days is neither; the other
    enterprise's overdue task is not counted (an enterprise sees only its own)."""
    _seed(factory, zone)
    principal, outsider = _user(factory, zone.principal), _user(factory, zone.outsider)
    with transaction(factory) as s:
        mine = task_counts(s, principal, TODAY)
        theirs = task_counts(s, outsider, TODAY)
    assert (mine.todo, mine.overdue, mine.due_soon, mine.review) == (4, 1, 2, 0)
    assert (theirs.todo, theirs.overdue, theirs.due_soon) == (1, 1, 0)


def test_office_counts_triage_as_awaiting_review(factory: sessionmaker[Session], zone: Zone) -> None:
    """A public report waits for the office's triage (举报受理研判): a review of another's report."""
    report(factory, None, zone.enterprise_id, NOW, source="public_report")
    office = _user(factory, zone.office)
    with transaction(factory) as s:
        counts = task_counts(s, office, TODAY)
    assert counts.todo == counts.review == 1


def _kpi_links(page: str) -> dict[str, tuple[int, str]]:
    """The first (this week's) tile of each kind: its figure and its link."""
    found: dict[str, tuple[int, str]] = {}
    for kind, href, figure in re.findall(r'data-kpi="(\w+)" href="([^"]+)"><span class="figure">(\d+)</span>', page):
        found.setdefault(kind, (int(figure), href.replace("&amp;", "&")))
    return found


def test_kpi_tiles_link_to_the_ledger_listing_as_many(factory: sessionmaker[Session], zone: Zone,
                                                      tmp_path: Path) -> None:
    """Each overseer tile (this week, Monday to Sunday in Shanghai) opens the ledger filtered to the same
    hazards: found, rectified (closed), overdue, listed (挂牌督办); the department sees its enterprise only."""
    ids = _seed(factory, zone)
    with transaction(factory) as s:
        s.execute(update(Hazard).where(Hazard.id == ids[0]).values(status="closed"))
        s.execute(update(Hazard).where(Hazard.id == ids[1]).values(rectification_deadline=date(2026, 11, 25),
                                                                   supervision_listed=True))
        s.execute(update(Hazard).where(Hazard.id == ids[4]).values(found_on=date(2026, 11, 29)))
    app = make_app(factory, tmp_path, NOW)
    expected = {"office": {"found": 3, "rectified": 1, "overdue": 1, "listed": 1},
                "dept": {"found": 2, "rectified": 1, "overdue": 1, "listed": 1},
                "town": {"found": 3, "rectified": 1, "overdue": 1, "listed": 1}}
    for username, figures in expected.items():
        client = app.test_client()
        sign_in(client, username)
        page = client.get("/").get_data(as_text=True)
        tiles = _kpi_links(page)
        assert {kind: figure for kind, (figure, _) in tiles.items()} == figures, username
        for figure, href in tiles.values():
            assert "from=2026-11-23" in href and "to=2026-11-29" in href
            ledger = client.get(href).get_data(as_text=True)
            assert f"共 {figure} 项" in ledger, (username, href)
            if "listed=1" in href:  # the ledger's own form keeps the filter when another one changes
                assert 'name="listed" value="1" checked' in ledger


def test_office_sees_who_has_not_filed_this_week(factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> None:
    """Plan 三、(四): towns and departments file their weekly table (附表1/2); the office's home lists the
    units whose table of this week (or a report due by then) is still open, and open incidents."""
    dates = {**CAMPAIGN_2026.dates, "dispatch_start": "2026-11-20"}
    with transaction(factory) as s:
        start_campaign(s, None, replace(CAMPAIGN_2026, dates=dates), datetime(2026, 11, 1, 1, tzinfo=UTC))
    sweep(factory, NOW)
    office = _user(factory, zone.office)
    with transaction(factory) as s:
        weekly = list(s.execute(select(InboxTask.bpmn_id, Organisation.name).join(
            Organisation, Organisation.id == InboxTask.organisation_id).where(
            InboxTask.bpmn_id.in_(FILING_STEPS), InboxTask.completed_at.is_(None))))
        listed = home(s, office, TODAY).not_filed
    assert {"Task_TownWeekly", "Task_DepartmentWeekly"} <= {bpmn_id for bpmn_id, _ in weekly}
    assert sorted((task.bpmn_id, unit) for task, unit, _ in listed) == sorted(weekly)
    client = make_app(factory, tmp_path, NOW).test_client()
    sign_in(client, "office")
    page = client.get("/").get_data(as_text=True)
    assert "本周未报送" in page and "T1单位" in page and "D1单位" in page and "重大事故隐患专项排查整治2026行动" in page
    assert 'data-count="incidents">0<' in page


def test_enterprise_home_shows_this_months_duties(factory: sessionmaker[Session], zone: Zone,
                                                  tmp_path: Path) -> None:
    """The enterprise's duties (主要负责人带队检查 …) of this month appear on its home with the deadline;
    another enterprise's do not, and the duty task row names the duty, the enterprise and the period."""
    with transaction(factory) as s:
        opened = duties.open_due_duties(s, NOW)
    assert opened > 0
    principal = _user(factory, zone.principal)
    with transaction(factory) as s:
        mine = home(s, principal, TODAY).duties
    assert mine and {d.enterprise_id for d in mine} == {zone.enterprise_id}
    client = make_app(factory, tmp_path, NOW).test_client()
    sign_in(client, "boss")
    page = client.get("/").get_data(as_text=True)
    assert "本月履职事项" in page and "主要负责人带队检查" in page and "E2单位" not in page
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "主要负责人带队检查 · E1单位 · 2026-" in re.sub(r"\s+", " ", inbox)


def test_task_rows_name_the_hazard_and_its_enterprise(factory: sessionmaker[Session], zone: Zone,
                                                      tmp_path: Path) -> None:
    """A task row says what it is about: the hazard's code and title and the enterprise, due marks in colour."""
    ids = _seed(factory, zone)
    client = make_app(factory, tmp_path, NOW).test_client()
    sign_in(client, "boss")
    with transaction(factory) as s:
        code = s.get(Hazard, ids[0]).code  # type: ignore[union-attr]
    for path in ("/", "/inbox"):
        page = re.sub(r"\s+", " ", client.get(path).get_data(as_text=True))
        assert f"{code} 储罐区报警器失效</a> · E1单位" in page, path
        assert "badge danger" in page and "badge due-soon" in page
        assert "E2单位" not in page


def test_home_page_per_role_and_sign_in_first(factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> None:
    """`/` is each role's home; signed out it sends to the sign-in page."""
    app = make_app(factory, tmp_path, NOW)
    assert app.test_client().get("/").headers["Location"].startswith("/login")
    for username, overseer in (("boss", False), ("dept", True), ("town", True), ("office", True)):
        client = app.test_client()
        sign_in(client, username)
        page = client.get("/").get_data(as_text=True)
        assert "工作台" in page and 'data-count="todo"' in page
        assert ('data-kpi="found"' in page) is overseer


def _task(s: Session, instance_id: int, number: int, role: str, organisation_id: int, due: str | None,
          bpmn_id: str = "Task_ReviewPlan", **extra: object) -> None:
    s.add(InboxTask(task_id=f"00000000-0000-4000-8000-{number:012d}", instance_id=instance_id, bpmn_id=bpmn_id,
                    name=bpmn_id, lane="监管部门", role=role, organisation_id=organisation_id, created_at=NOW,
                    due_on=date.fromisoformat(due) if due else None, **extra))


def test_counts_pinned_for_each_role_as_the_inbox_counts_them(factory: sessionmaker[Session], zone: Zone,
                                                               tmp_path: Path) -> None:
    """The department's and the town's to-dos (homespeed: the counts read a covering index since 0031; the
    figures must not move): unclaimed or claimed by me, not by a colleague, not completed; due soon is today
    to today + 3 (Shanghai), overdue before today, a review step counts as awaiting my review, undated counts
    only as a to-do. The inbox's `todo` tab counts as many."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, NOW, hazard_level="general")
    with transaction(factory) as s:
        instance_id = s.get(Hazard, hazard_id).instance_id  # type: ignore[union-attr]
        department_id, town_id = zone.department.organisation_id, zone.town.organisation_id
        colleague = User(username="dept_colleague", display_name="同事", role="department",
                         organisation_id=department_id, password_hash="x")
        s.add(colleague)
        s.flush()
        rows = [("2026-11-25", "Task_ReviewPlan", {}), ("2026-11-26", "Task_ReviewPlan", {}),
                ("2026-11-29", "Task_DepartmentWeekly", {}), ("2026-11-30", "Task_ReviewPlan", {}),
                (None, "Task_DepartmentVerify", {}),
                ("2026-11-20", "Task_DepartmentWeekly", {"assignee_id": zone.department.id}),
                ("2026-11-20", "Task_ReviewPlan", {"assignee_id": colleague.id}),
                ("2026-11-20", "Task_ReviewPlan", {"completed_at": NOW})]
        for n, (due, step, extra) in enumerate(rows):
            _task(s, instance_id, 900 + n, "department", department_id, due, step, enterprise_id=zone.enterprise_id,
                  **extra)
        _task(s, instance_id, 950, "department", zone.other_department.organisation_id, "2026-11-20",
              enterprise_id=zone.enterprise_id)
        _task(s, instance_id, 960, "town", town_id, "2026-11-27", "Task_TownWeekly", enterprise_id=zone.enterprise_id)
        _task(s, instance_id, 961, "town", town_id, "2026-11-24", "Task_Reinspect", enterprise_id=zone.enterprise_id)
    department, town = _user(factory, zone.department), _user(factory, zone.town)
    with transaction(factory) as s:
        counts = {"dept": task_counts(s, department, TODAY), "town": task_counts(s, town, TODAY)}
    assert counts["dept"] == TaskCounts(todo=6, due_soon=2, overdue=2, review=4)
    assert counts["town"] == TaskCounts(todo=2, due_soon=1, overdue=1, review=1)
    app = make_app(factory, tmp_path, NOW)
    for username, expected in counts.items():
        client = app.test_client()
        sign_in(client, username)
        home_page = client.get("/").get_data(as_text=True)
        for name in ("todo", "due_soon", "overdue", "review"):
            assert f'data-count="{name}">{getattr(expected, name)}<' in home_page, (username, name)
        assert f"共 {expected.todo} 项" in client.get("/inbox").get_data(as_text=True) or expected.todo == 0


def test_kpi_figures_pinned_over_every_way_a_hazard_counts(factory: sessionmaker[Session], zone: Zone) -> None:
    """Overdue counts a live hazard past its deadline or marked overdue by the timer (not a closed or rejected
    one); rectified counts closed ones; listed counts 挂牌督办 whatever the status; all time when no campaign."""
    ids = [report(factory, zone.principal, zone.enterprise_id, NOW, hazard_level="general", found_on="2026-11-24")
           for _ in range(6)]
    other = report(factory, zone.outsider, zone.other_enterprise_id, NOW, hazard_level="general",
                   found_on="2026-10-01")
    past, future = date(2026, 11, 25), date(2026, 11, 27)
    with transaction(factory) as s:
        for hazard_id, values in zip(ids, (
                {"rectification_deadline": past},  # overdue by deadline
                {"rectification_deadline": future, "overdue_since": NOW},  # overdue by the timer
                {"rectification_deadline": past, "status": "closed"},  # rectified, not overdue
                {"rectification_deadline": past, "status": "rejected", "supervision_listed": True},  # listed only
                {"rectification_deadline": future},  # nothing
                {"rectification_deadline": TODAY},  # due today: not overdue
        ), strict=True):
            s.execute(update(Hazard).where(Hazard.id == hazard_id).values(**values))
        s.execute(update(Hazard).where(Hazard.id == other).values(status="closed", supervision_listed=True))
    figures = {}
    for user in (zone.office, zone.department, zone.town):
        found = _user(factory, user)
        with transaction(factory) as s:
            tiles = kpis(s, found, TODAY)
        figures[found.username] = [(k.found, k.rectified, k.overdue, k.listed, k.rate) for k in tiles]
    week, all_time = (6, 1, 2, 1, 16.7), (7, 2, 2, 2, 28.6)
    assert figures == {"office": [week, all_time], "dept": [week, (6, 1, 2, 1, 16.7)], "town": [week, all_time]}
def _tiles(page: str) -> dict[str, tuple[int, str]]:
    """My task tiles: figure and link by kind."""
    return {kind: (int(figure), href.replace("&amp;", "&")) for href, kind, figure in re.findall(
        r'<a class="tile[^"]*" href="([^"]+)"><span class="figure" data-count="(\w+)">(\d+)</span>', page)}


def test_each_task_tile_opens_the_inbox_filtered_to_as_many(factory: sessionmaker[Session], zone: Zone,
                                                             tmp_path: Path) -> None:
    """To-dos, due soon (today to today + 3 days), overdue, awaiting my review: the tile's figure is the count
    of the inbox it links to, for every role."""
    _seed(factory, zone)
    for due in ("2026-11-25", "2026-11-27"):  # two major hazards' plans for the department to review
        hazard_id = report(factory, zone.principal, zone.enterprise_id, NOW, hazard_level="major")
        complete(factory, zone.principal, hazard_id, {**PLAN, "rectification_deadline": "2026-12-20"}, NOW)
        _due(factory, hazard_id, due)
    _due(factory, report(factory, None, zone.enterprise_id, NOW, source="public_report"), "2026-11-28")  # triage
    app = make_app(factory, tmp_path, NOW)
    seen = {}
    for username in ("boss", "dept", "town", "office"):
        client = app.test_client()
        sign_in(client, username)
        tiles = _tiles(client.get("/").get_data(as_text=True))
        assert set(tiles) == {"todo", "due_soon", "overdue", "review"}, username
        for kind, (figure, href) in tiles.items():
            inbox = client.get(href)
            assert inbox.status_code == 200, (username, href)
            assert f'data-tab="todo">{figure}<' in inbox.get_data(as_text=True), (username, kind, href)
        seen[username] = {kind: figure for kind, (figure, _) in tiles.items()}
    assert seen["boss"] == {"todo": 4, "due_soon": 2, "overdue": 1, "review": 0}
    assert seen["dept"] == {"todo": 2, "due_soon": 1, "overdue": 1, "review": 2}
    assert seen["office"]["review"] == seen["office"]["due_soon"] == 1


def test_the_inbox_refuses_an_unknown_due_filter(factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> None:
    client = make_app(factory, tmp_path, NOW).test_client()
    sign_in(client, "boss")
    refused = client.get("/inbox?due=someday")
    assert refused.status_code == 400 and "someday" not in refused.get_data(as_text=True)
