"""The pages people decide and act on, in a real headless Chromium on a phone (390×844) and a desktop (1440×900)
(issue #20): each role's home, the rectification form sent back with a wrong field (its photo kept), the plan
review (the five-in-place plan and the before photos), the verification (before and after side by side, what was
done), the hazard's page and a long checklist one item per screen.

On each: what the user relies on is displayed and within the window's width, nothing scrolls sideways, the
Content-Security-Policy refused nothing, and axe-core (node_modules, `npm ci`) finds no serious or critical WCAG
2.0/2.1 A/AA violation. A screenshot of each page lies in $WORKFLOW_APP_ARTIFACTS (default artifacts/) as
<page>-<width>.png. One app server and one browser serve the whole module; each test resizes the window.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from browser_support import (
    ShellViolations,
    artifacts,
    assert_accessible,
    assert_no_csp_violation,
    assert_no_horizontal_scroll,
    assert_visible,
    chromium,
    serving,
)
from conftest import BPMN_DIR, T0, _org, _user
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from web_support import make_app, png

from workflow_app.services import duties, hazards, standards, tasks
from workflow_app.services import self_inspections as walks
from workflow_app.services.evidence import EvidenceStore, Uploads, check_photo
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import InboxTask, Notice, Organisation, Sector, User

pytestmark = pytest.mark.browser

PHONE, DESKTOP = (390, 844), (1440, 900)
SIZES = [pytest.param(PHONE, id="390"), pytest.param(DESKTOP, id="1440")]
SHELL_PENDING = pytest.mark.xfail(raises=ShellViolations, strict=False,
                                  reason="contrast/labels fixed by branch shell")
"""Until the `shell` branch is merged: only axe findings in base.html/app.css (ShellViolations: the unread badge's
1.18:1, the major badge's 3.58:1) are expected; any other failure fails the test. Drop it after the merge."""

REPORT = {"source": "self_inspection", "hazard_level": "major", "category": "equipment", "description": "报警器不报警",
          "location": "储罐区", "found_on": "2026-11-02"}
PLAN = {"responsible_person": "王五", "rectification_measures": "更换可燃气体报警器并联调",
        "rectification_funds": "2.5", "rectification_deadline": "2026-11-20",
        "emergency_plan": "设置警戒区，专人值守"}
DONE = {"rectify_action": "done", "rectification_result": "已更换报警器并联调合格", "rectified_on": "2026-11-02",
        "rectification_cost": "1.8"}
ITEMS = 18  # the long checklist: more than 15 items
KEY_ITEMS = "\n".join([",".join(standards.COLUMNS)] + [
    f"KEY-HC-2026,key_items,危化品重点检查事项,D1单位,D1〔2026〕2号,2026-01-01,hazchem,,是,K{n},,"
    f"第 {n} 项：储罐区、装卸区及管廊第 {n} 处安全设施完好有效" for n in range(1, ITEMS + 1)]) + "\n"


@dataclass
class Site:
    """The app on a real server, on a small zone with hazards at each step; task and walk ids to open."""

    base_url: str
    rectify_task: str
    review_task: str
    verify_task: str
    verified_hazard: int
    walk_id: int
    signed_in: str = ""


def _person(s: Session, username: str) -> User:
    return s.scalars(select(User).where(User.username == username)).one()


def _open_task(s: Session, hazard_id: int) -> InboxTask:
    return s.scalars(select(InboxTask).where(InboxTask.hazard_id == hazard_id, InboxTask.completed_at.is_(None))).one()


def _seed(factory: sessionmaker[Session], store: EvidenceStore) -> tuple[dict[str, str], int, int]:
    """A zone (office, town T1, department D1 over 危险化学品, enterprises E1 and E2 in T1, a user per role),
    E1's major hazards waiting for a plan (overdue), its review, the rectification (due soon) and the
    verification, each with a photo from before; E2's public report waiting for the office; this month's duties;
    an unread notice for each organisation; an 18-item checklist E1 is walking. Returns the open task ids by step,
    the id of the hazard waiting for verification and the walk's id."""
    with transaction(factory) as s:
        _user(s, "office", "office", _org(s, "OFFICE", "office"))
        town = _org(s, "T1", "town")
        _user(s, "town", "town", town)
        dept = _org(s, "D1", "department")
        s.add(Sector(code="hazchem", name="危险化学品", department_id=dept.id))
        _user(s, "dept", "department", dept)
        e1 = _org(s, "E1", "enterprise", sector_code="hazchem", town_id=town.id)
        e2 = _org(s, "E2", "enterprise", sector_code="hazchem", town_id=town.id)
        _user(s, "boss", "enterprise", e1).is_principal = True
        e1_id, e2_id = e1.id, e2.id
    steps: dict[str, int] = {}
    for step, title, colour in (("plan", "储罐区可燃气体报警器失效", "orange"), ("review", "装卸区静电接地缺失", "red"),
                                ("rectify", "管廊支架腐蚀", "brown"), ("verify", "罐区防火堤破损", "purple")):
        photo = check_photo(png(colour, (640, 480)), f"{step}-before.png")
        with transaction(factory) as s:
            steps[step] = hazards.report_hazard(s, _person(s, "boss"), e1_id, {**REPORT, "title": title}, T0,
                                                Uploads(store, {"photos_before": [photo]})).hazard_id
    for step, hazard_id in steps.items():
        with transaction(factory) as s:
            boss, dept_user = _person(s, "boss"), _person(s, "dept")
            if step != "plan":
                tasks.complete_task(s, boss, _open_task(s, hazard_id).task_id, PLAN, T0)
            if step in ("rectify", "verify"):
                tasks.complete_task(s, dept_user, _open_task(s, hazard_id).task_id,
                                    {"review_decision": "approve", "review_opinion": "同意，按期整改"}, T0)
            if step == "verify":
                after = check_photo(png("green", (640, 480)), "verify-after.png")
                tasks.complete_task(s, boss, _open_task(s, hazard_id).task_id, DONE, T0,
                                    Uploads(store, {"photos_after": [after]}))
    with transaction(factory) as s:  # marks on the homes: one overdue, one due soon (T0 is 2026-11-02)
        for step, due in (("plan", "2026-11-01"), ("rectify", "2026-11-04")):
            s.execute(update(InboxTask).where(InboxTask.hazard_id == steps[step], InboxTask.completed_at.is_(None))
                      .values(due_on=date.fromisoformat(due)))
        public = {**REPORT, "source": "public_report", "title": "仓库堆放杂物堵塞通道"}
        hazards.report_hazard(s, None, e2_id, public, T0)
        duties.open_due_duties(s, T0)
        for org in s.scalars(select(Organisation)):  # an unread notice for everyone: the badge in the header
            s.add(Notice(idempotency_key=f"pages:{org.code}", kind="reminder", recipient_org_id=org.id,
                         subject="隐患整改期限将至", body="请按期完成整改", status="sent", created_at=T0, sent_at=T0))
        standards.import_rows(s, _person(s, "dept"), standards.read_table(KEY_ITEMS.encode(), "key.csv"), T0)
    with transaction(factory) as s:
        items = [i.id for i in standards.applicable_items(s, "hazchem", T0.date())][:ITEMS + 3]
        checklist = walks.create_checklist(s, _person(s, "dept"), "hazchem", "危化品企业对标自查清单", items, T0)
        walk_id = walks.start_walk(s, _person(s, "boss"), checklist.id, "self_inspection", T0).id
    with transaction(factory) as s:
        open_tasks = {step: _open_task(s, hazard_id) for step, hazard_id in steps.items()}
        assert {step: t.bpmn_id for step, t in open_tasks.items()} == {
            "plan": "Task_PlanRectification", "review": "Task_ReviewPlan", "rectify": "Task_Rectify",
            "verify": "Task_DepartmentVerify"}
        return {step: t.task_id for step, t in open_tasks.items()}, steps["verify"], walk_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("pages")
    engine = make_engine(f"sqlite:///{folder / 'pages.db'}")
    factory: sessionmaker[Session] = make_session_factory(engine)
    init_db(engine, factory, BPMN_DIR, T0)
    app = make_app(factory, folder, T0)
    task_ids, verified, walk_id = _seed(factory, app.extensions["workflow_app"].evidence)
    with serving(app) as base_url:
        yield Site(base_url, task_ids["rectify"], task_ids["review"], task_ids["verify"], verified, walk_id)
    engine.dispose()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium(*PHONE) as browser:
        yield browser


class Page:
    """One page at one window size: open it as a user, check it, save its screenshot."""

    def __init__(self, driver: Any, site: Site, size: tuple[int, int], name: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.site, self.by, self.name = driver, site, By, f"{name}-{size[0]}"
        self.wait = WebDriverWait(driver, 10)
        driver.get_log("browser")  # what an earlier test's pages logged is theirs
        driver.set_window_size(*size)
        inner = driver.execute_script("return window.innerWidth")
        assert inner == size[0], f"the window is {inner} px wide inside, not {size[0]}"

    def sign_in(self, username: str) -> None:
        if self.site.signed_in == username:
            return
        self.driver.delete_all_cookies()
        self.load("/login")
        self.driver.find_element(self.by.ID, "username").send_keys(username)
        self.driver.find_element(self.by.ID, "password").send_keys("pw")
        self.submit("main form button[type=submit]")
        assert "/login" not in self.driver.current_url, self.driver.find_element(self.by.TAG_NAME, "main").text
        self.site.signed_in = username

    def settled(self) -> None:
        self.wait.until(lambda d: d.execute_script("return !window.__old_page && document.readyState === 'complete'"
                                                   " && [...document.images].every(i => i.complete)"))

    def load(self, path: str) -> None:
        self.driver.execute_script("window.__old_page = true")
        self.driver.get(self.site.base_url + path)
        self.settled()

    def submit(self, css: str) -> None:
        self.driver.execute_script("window.__old_page = true")
        button = self.find(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        self.settled()

    def follow(self, css: str) -> None:
        """Tap a link and wait for the page it opens."""
        self.driver.execute_script("window.__old_page = true")
        link = self.find(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        link.click()
        self.settled()

    def find(self, css: str) -> Any:
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return list(self.driver.find_elements(self.by.CSS_SELECTOR, css))

    def visible(self, *selectors: str) -> list[Any]:
        return [assert_visible(self.driver, css, self.name) for css in selectors]

    def loaded(self, css: str) -> None:
        """An image that is shown, fetched and decoded (not a broken link)."""
        image = assert_visible(self.driver, css, self.name)
        assert self.driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0, \
            f"{self.name}: {css} did not load"

    def shot(self) -> None:
        """The whole page as artifacts/<page>-<width>.png: taken in a window as tall as the page, so that sticky
        bars sit where they end up rather than over the content."""
        width, height = self.driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollHeight]")
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": min(height, 16000), "deviceScaleFactor": 1, "mobile": False})
        try:
            capture = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        (artifacts() / f"{self.name}.png").write_bytes(base64.b64decode(capture["data"]))

    def check(self) -> None:
        """The checks every page passes, after its own: no sideways scroll, no refused script or style, no serious
        accessibility violation."""
        assert_no_horizontal_scroll(self.driver, self.name)
        assert_no_csp_violation(self.driver)
        assert_accessible(self.driver, self.name)


HOMES = {"enterprise": "boss", "department": "dept", "town": "town", "office": "office"}


@SHELL_PENDING
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", HOMES)
def test_home(driver: Any, site: Site, size: tuple[int, int], role: str) -> None:
    """`/` is the role's home: the to-do counts, the most urgent tasks naming their subject, and per role the
    overseers' figures, the office's missing filings, the enterprise's duties."""
    page = Page(driver, site, size, f"home-{role}")
    page.sign_in(HOMES[role])
    page.load("/")
    page.shot()
    assert page.find("h1").text == "工作台"
    page.visible("[data-count=todo]", "[data-count=overdue]", "[data-count=due_soon]", "[data-count=review]")
    counts = {e.get_attribute("data-count"): int(e.text) for e in page.all("[data-count]")}
    least = {"enterprise": {"todo": 2, "overdue": 1, "due_soon": 1}, "department": {"todo": 2, "review": 2},
             "town": {}, "office": {"todo": 1, "review": 1}}
    assert all(counts[kind] >= n for kind, n in least[role].items()), counts
    if role != "town":
        name, subject = page.visible("ul.tasks li.task .name", "ul.tasks li.task .meta")
        assert name.text and ("E1单位" in subject.text or "E2单位" in subject.text), subject.text
    if role == "enterprise":
        page.visible("li.task.overdue", ".badge.danger", "ul.duties li.task")
    else:
        page.visible("[data-kpi=found]", "[data-kpi=listed]")
    if role == "office":
        page.visible("[data-count=incidents]")
    page.check()


@SHELL_PENDING
@pytest.mark.parametrize("size", SIZES)
def test_rectification_form_kept_photo(driver: Any, site: Site, size: tuple[int, int]) -> None:
    """The enterprise sends 实施整改 with a photo and a wrong field: the error is shown beside the field and the
    photo is still there (its thumbnail, ticked to keep), to be sent again without a new upload."""
    page = Page(driver, site, size, "rectify-form")
    page.sign_in("boss")
    page.load(f"/tasks/{page.site.rectify_task}")
    page.visible("#f-rectify_action", "#f-rectification_result", "#f-photos_after")
    photo = artifacts("upload") / "after.png"
    photo.write_bytes(png("green", (640, 480)))
    page.find("#f-rectification_result").send_keys("已除锈刷漆并加固支架")
    page.driver.execute_script("arguments[0].value = '2026-11-02'", page.find("#f-rectified_on"))
    page.find("#f-rectification_cost").send_keys("-1")  # a wrong figure: no negative money
    page.find("#f-photos_after").send_keys(str(photo.resolve()))
    page.submit("main form.card button[type=submit]")
    page.shot()
    error, = page.visible("#e-rectification_cost")
    assert error.text, "the wrong field says why"
    page.loaded(".staged-photos img")
    kept = page.find(".staged-photos input[type=checkbox]")
    assert kept.is_selected() and kept.get_attribute("name") == "staged_photos_after"
    assert page.find("#f-rectification_result").get_attribute("value") == "已除锈刷漆并加固支架"
    page.check()


@SHELL_PENDING
@pytest.mark.parametrize("size", SIZES)
def test_plan_review(driver: Any, site: Site, size: tuple[int, int]) -> None:
    """The department reviews the plan seeing all of it (责任人、措施、资金、时限、应急预案) and the photo from
    before; the decision's fields are there too."""
    page = Page(driver, site, size, "plan-review")
    page.sign_in("dept")
    page.load(f"/tasks/{page.site.review_task}")
    page.shot()
    plan, = page.visible("#review-plan")
    for label, value in (("整改责任人", "王五"), ("整改措施", "更换可燃气体报警器并联调"), ("整改资金", "2.5"),
                         ("整改时限", "2026-11-20"), ("应急预案", "设置警戒区，专人值守")):
        assert label in plan.text and value in plan.text, (label, plan.text)
    page.visible(*(f"#review-plan dd:nth-of-type({n})" for n in range(1, 6)))
    page.loaded("#review-photos img")
    page.visible("#f-review_decision", "#f-review_opinion", "main form.card button[type=submit]")
    page.check()


@SHELL_PENDING
@pytest.mark.parametrize("size", SIZES)
def test_verification(driver: Any, site: Site, size: tuple[int, int]) -> None:
    """The department verifies seeing what was done (result, date, cost) and the photos before and after, side
    by side on a desktop, one above the other on a phone, each large enough to judge."""
    page = Page(driver, site, size, "verification")
    page.sign_in("dept")
    page.load(f"/tasks/{page.site.verify_task}")
    page.shot()
    outcome, = page.visible("#review-outcome")
    for value in (DONE["rectification_result"], DONE["rectified_on"], DONE["rectification_cost"]):
        assert value in outcome.text, (value, outcome.text)
    page.loaded("#photos-before img")
    page.loaded("#photos-after img")
    before, after = (page.driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", page.find(css))
                     for css in ("#photos-before img", "#photos-after img"))
    assert min(before["width"], after["width"]) >= 240, (before, after)  # large enough to judge
    if page.driver.execute_script("return window.innerWidth") >= 1000:
        assert abs(before["top"] - after["top"]) < 2 and after["left"] > before["right"], "side by side"
    page.visible("#review-history", "#f-verification_result", "#f-verifier_signature")
    page.check()


@SHELL_PENDING
@pytest.mark.parametrize("size", SIZES)
def test_hazard_page(driver: Any, site: Site, size: tuple[int, int]) -> None:
    """The hazard's own page, where a reviewer's page links: its status and level, facts, the photos before and
    after, the process diagram (scrolling inside its own frame on a phone, reachable by keyboard), the history."""
    page = Page(driver, site, size, "hazard")
    page.sign_in("dept")
    page.load(f"/hazards/{site.verified_hazard}")
    page.shot()
    page.visible("h1", "#hazard-status", "dl.facts", ".photos a")
    assert [span.text for span in page.all(".photos a span")] == ["整改前", "整改后"]
    page.loaded(".photos img")
    frame, = page.visible(".diagram")  # the diagram is wider than a phone: it scrolls inside this frame
    assert frame.get_attribute("tabindex") == "0"
    assert page.driver.execute_script("const i = arguments[0]; return i.complete && i.naturalWidth",
                                      page.find(".diagram img")) > 0
    page.visible("ol.history")
    page.check()


@SHELL_PENDING
@pytest.mark.parametrize("size", SIZES)
def test_checklist_one_item(driver: Any, site: Site, size: tuple[int, int]) -> None:
    """A checklist of 18 items walked one per screen: exactly one item shows, with previous / next / next
    unanswered links and a jump list; next goes to item 2."""
    page = Page(driver, site, size, "checklist-one-item")
    page.sign_in("boss")
    page.load(f"/self-inspections/{page.site.walk_id}?one=1&item=1")
    page.shot()
    shown = [item for item in page.all("fieldset.check-item") if item.is_displayed()]
    assert len(shown) == 1 and len(page.all("fieldset.check-item")) == 1, "one item per screen"
    page.visible("fieldset.check-item", "fieldset.check-item input[type=radio]", "a#next-item", "a#next-open",
                 "select#jump-item")
    jump = page.all("select#jump-item option")
    assert len(jump) >= ITEMS, [o.text for o in jump]
    first = page.find("fieldset.check-item").get_attribute("id")
    page.follow("a#next-item")
    assert "item=2" in page.driver.current_url and len(page.all("fieldset.check-item")) == 1
    assert page.find("fieldset.check-item").get_attribute("id") != first
    page.visible("a#prev-item", "a#next-item")
    page.follow("a#prev-item")
    assert page.find("fieldset.check-item").get_attribute("id") == first
    page.check()
