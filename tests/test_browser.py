"""End to end in a real headless Chromium (Debian's chromium + chromium-driver, via Selenium):
a major hazard from report to close-out across an enterprise and its supervising department.

Every page a test opens is checked for Content-Security-Policy violations in the browser's console: a page
that needs an inline script or style the policy refuses fails the test that opens it.
Screenshots of each step are saved under $WORKFLOW_APP_ARTIFACTS/e2e (default artifacts/e2e).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import artifacts, assert_no_csp_violation, chromium, serving
from conftest import BPMN_DIR, T0, _org, _user
from sqlalchemy.orm import Session, sessionmaker
from web_support import make_app, png

from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import Sector

pytestmark = pytest.mark.browser
ENTERPRISE = "E1单位"  # conftest's _org names an organisation "<code>单位"


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """The app on a real WSGI server in a thread, on its own SQLite file with a small zone."""
    engine = make_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
    factory: sessionmaker[Session] = make_session_factory(engine)
    init_db(engine, factory, BPMN_DIR, T0)
    with transaction(factory) as s:
        _user(s, "office", "office", _org(s, "OFFICE", "office"))
        dept = _org(s, "D1", "department")
        s.add(Sector(code="hazchem", name="危险化学品", department_id=dept.id))
        enterprise = _org(s, "E1", "enterprise", sector_code="hazchem")
        _org(s, "E2", "enterprise", sector_code="hazchem")  # so the enterprise list is a real choice for others
        _user(s, "boss", "enterprise", enterprise).is_principal = True
        _user(s, "dept", "department", dept)
    with serving(make_app(factory, tmp_path, T0)) as url:
        yield url
    engine.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium in a phone-sized window; never a downloaded browser or driver."""
    with chromium(412, 915) as driver:
        yield driver
        assert_no_csp_violation(driver)


class Walk:
    """The user's hands: sign in, fill fields, submit, and a screenshot per step (explicit waits only)."""

    def __init__(self, driver: Any, base_url: str) -> None:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import Select, WebDriverWait

        self.driver, self.base_url, self.by, self.select, self.ec = driver, base_url, By, Select, expected_conditions
        # while a page is being replaced Chromium may answer with errors: keep polling through them
        self.wait = WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,))
        self.folder = artifacts("e2e")
        self.shots = 0

    def find(self, css: str) -> Any:
        return self.wait.until(self.ec.presence_of_element_located((self.by.CSS_SELECTOR, css)))

    def navigate(self, action: Callable[[], object]) -> None:
        """Do `action`, wait until the next page has replaced this one and finished loading, and check that
        the policy refused nothing on it."""
        self.driver.execute_script("window.__old_page = true")
        action()
        self.wait.until(lambda d: d.execute_script("return !window.__old_page && document.readyState === 'complete'"))
        assert_no_csp_violation(self.driver)

    def click(self, css: str) -> None:
        self.navigate(lambda: self.find(css).click())

    def tap(self, css: str) -> Any:
        """Scroll an element to the middle of the screen (clear of sticky bars), tap it, return it."""
        element = self.find(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()
        return element

    def open(self, path: str) -> None:
        self.navigate(lambda: self.driver.get(self.base_url + path))

    def sign_in(self, username: str) -> None:
        self.open("/login")
        self.find("#username").send_keys(username)
        self.find("#password").send_keys("pw")
        self.click("main form button[type=submit]")
        assert self.driver.current_url.endswith("/inbox"), self.text()

    def sign_out(self) -> None:
        self.click("form[action='/logout'] button")
        assert "/login" in self.driver.current_url or self.find("a[href='/login']")

    def fill(self, field: str, value: str) -> None:
        element = self.find(f"#f-{field}")
        if element.get_attribute("type") == "date":  # typing into date inputs depends on the locale
            self.driver.execute_script("arguments[0].value = arguments[1]", element, value)
        else:
            element.clear()
            element.send_keys(value)

    def choose(self, field: str, value: str) -> None:
        self.select(self.find(f"#f-{field}")).select_by_value(value)

    def attach(self, field: str, photo: Path) -> None:
        self.find(f"#f-{field}").send_keys(str(photo.resolve()))

    def submit(self) -> None:
        """Submit the page's form; a form sent back with errors fails here, showing them."""
        self.click("main form.card button[type=submit]")
        errors = [e.text for e in self.driver.find_elements(self.by.CSS_SELECTOR, "main .error")]
        assert not errors, errors

    def open_first_task(self, name: str) -> None:
        self.open("/inbox")
        self.navigate(lambda: self.wait.until(self.ec.element_to_be_clickable((self.by.LINK_TEXT, name))).click())
        assert re.search(r"/tasks/[^/]+$", self.driver.current_url), self.driver.current_url

    def status(self) -> str:
        return str(self.find("#hazard-status").text)

    def text(self) -> str:
        return str(self.find("body").text)

    def shot(self, label: str) -> None:
        self.shots += 1
        self.driver.save_screenshot(str(self.folder / f"{self.shots:02d}-{label}.png"))


def report_major_hazard(walk: Walk, photo: Path) -> None:
    walk.open("/hazards/new")
    assert [o.text for o in walk.select(walk.find("#f-enterprise")).options] == [ENTERPRISE]  # only its own
    walk.select(walk.find("#f-enterprise")).select_by_visible_text(ENTERPRISE)
    for field, value in (("source", "enforcement"), ("hazard_level", "major"), ("category", "equipment")):
        walk.choose(field, value)
    for field, value in (("title", "储罐区可燃气体报警器失效"), ("description", "报警器不报警"), ("location", "储罐区"),
                         ("found_on", "2026-11-01")):
        walk.fill(field, value)
    walk.attach("photos_before", photo)
    search, heading = walk.find("input[data-filter='#f-items']"), walk.find("#f-items li.group")
    search.send_keys("储罐")  # the standard items narrow as one types; a standard with none left steps aside
    assert heading.is_displayed()
    search.send_keys("无此条款")
    assert not heading.is_displayed()
    walk.submit()


def assert_hazard_page(walk: Walk) -> None:
    """The hazard page: its code, the major badge, the photo and the process diagram (which loaded)."""
    assert re.search(r"/hazards/\d+$", walk.driver.current_url), walk.driver.current_url
    assert re.match(r"YH2026\d+ 储罐区可燃气体报警器失效", walk.find("h1").text), walk.find("h1").text
    assert "重大事故隐患" in walk.find(".meta").text
    diagram = walk.find("img[src$='/diagram.svg']")
    assert walk.driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", diagram) > 0


def test_major_hazard_from_report_to_close_out(browser: Any, base_url: str, tmp_path: Path) -> None:
    walk = Walk(browser, base_url)
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    before.write_bytes(png("orange", (320, 240)))
    after.write_bytes(png("green", (320, 240)))

    walk.sign_in("boss")
    report_major_hazard(walk, before)
    assert_hazard_page(walk)
    assert walk.status() == "待制定整改方案"
    walk.shot("reported")

    walk.open_first_task("制定治理方案（五落实）")
    for field, value in (("responsible_person", "王五"), ("rectification_measures", "更换报警器"),
                         ("rectification_funds", "2.5"), ("rectification_deadline", "2026-11-20"),
                         ("emergency_plan", "设置警戒区，专人值守")):
        walk.fill(field, value)
    walk.submit()
    assert walk.status() == "方案审核中"
    walk.shot("planned")
    walk.sign_out()

    walk.sign_in("dept")
    walk.open_first_task("审核治理方案")
    walk.choose("review_decision", "approve")
    walk.fill("review_opinion", "同意，按期整改")
    walk.submit()
    assert walk.status() == "整改中" and "挂牌督办" not in walk.find(".meta").text  # listing: the office decides
    walk.shot("approved")
    walk.sign_out()

    walk.sign_in("boss")
    walk.open_first_task("实施整改")
    walk.fill("rectification_result", "已更换报警器并联调")
    walk.fill("rectified_on", "2026-11-10")
    walk.attach("photos_after", after)
    walk.submit()
    assert walk.status() == "待验收"
    assert [s.text for s in browser.find_elements(walk.by.CSS_SELECTOR, ".photos a span")] == ["整改前", "整改后"]
    walk.shot("rectified")
    walk.sign_out()

    walk.sign_in("dept")
    walk.open_first_task("部门验收")
    walk.choose("verification_result", "passed")
    walk.fill("verification_opinion", "验收合格，同意销号")
    walk.fill("verifier_signature", "dept姓名")  # signed by the verifier's own name
    walk.submit()
    assert_hazard_page(walk)
    assert walk.status() == "已销号" and "销号时间" in walk.text()
    walk.shot("closed")
    walk.sign_out()

    walk.sign_in("boss")
    assert "没有待办任务" in walk.text()
    walk.shot("empty-inbox")


def test_on_a_phone_a_department_builds_a_checklist_and_the_enterprise_walks_and_signs_it(
        browser: Any, base_url: str, tmp_path: Path) -> None:
    walk = Walk(browser, base_url)
    photo = tmp_path / "tank.png"
    photo.write_bytes(png("purple", (320, 240)))

    walk.sign_in("dept")
    walk.open("/checklists/new")
    walk.fill("title", "危化品企业对标自查清单")
    search = walk.find("input[data-filter='#pick']")
    search.send_keys("储罐")  # the item list narrows as one types
    visible = [r for r in browser.find_elements(walk.by.CSS_SELECTOR, "#pick li") if r.is_displayed()]
    assert len(visible) == 1 and "液化烃储罐" in visible[0].text
    visible[0].find_element(walk.by.CSS_SELECTOR, "input").click()
    search.clear()
    search.send_keys("特种作业")
    next(r for r in browser.find_elements(walk.by.CSS_SELECTOR, "#pick li") if r.is_displayed()).find_element(
        walk.by.CSS_SELECTOR, "input").click()
    walk.submit()
    assert "共 2 项" in walk.text()
    walk.shot("checklist-built")
    walk.sign_out()

    walk.sign_in("boss")
    walk.open("/checklists")
    walk.navigate(lambda: walk.find("main table a").click())
    walk.click("main form.card button[type=submit]")  # 开始自查
    lines = browser.find_elements(walk.by.CSS_SELECTOR, "fieldset.check-item")
    by_text = {("储罐" in line.text): line.get_attribute("id").split("-")[1] for line in lines}
    found, fine = by_text[True], by_text[False]
    walk.tap(f"input[name='answer-{found}'][value='found']")
    walk.tap(f"#note-{found}").send_keys("液化烃储罐未设置注水措施")
    walk.tap(f"#location-{found}").send_keys("液化烃罐区")
    walk.select(walk.find(f"#category-{found}")).select_by_value("equipment")
    walk.find(f"#photos-{found}").send_keys(str(photo.resolve()))
    walk.tap("#only-open")  # what is left to check: the answered item steps aside
    assert not walk.find(f"#line-{found}").is_displayed() and walk.find(f"#line-{fine}").is_displayed()
    walk.tap("#only-open")
    walk.tap(f"input[name='answer-{fine}'][value='compliant']")
    walk.shot("walking")
    walk.click("button[name=action][value=submit]")
    assert "待主要负责人签字" in walk.text(), walk.text()
    walk.fill("signature", "boss姓名")
    walk.click("form[action$='/sign'] button")
    assert "已签字" in walk.text()
    walk.shot("signed")
    walk.navigate(lambda: walk.find("main a[href^='/hazards/']").click())
    assert "重大事故隐患" in walk.find(".meta").text and "液化烃储罐" in walk.find("h1").text


PAGES = ("/inbox", "/ledger", "/hazards/new", "/dashboard", "/statistics", "/campaigns", "/spot-checks", "/checklists",
         "/standards", "/cases", "/delegations", "/notices", "/tokens", "/people", "/admin/incidents", "/admin/models")


def test_no_page_needs_what_the_content_security_policy_refuses(browser: Any, base_url: str) -> None:
    """The public pages, the API docs, every page of the menu as the office, and a drawn diagram opened on its
    own: none has an inline script, handler or style the policy refuses (Walk.navigate reads the console)."""
    walk = Walk(browser, base_url)
    for path in ("/login", "/report", "/report/status", "/api/v1/docs"):
        walk.open(path)
    walk.sign_in("office")
    for path in PAGES:
        walk.open(path)
        assert browser.find_elements(walk.by.CSS_SELECTOR, "main h1"), path
    walk.click("a[href$='/diagram.svg']")  # the last page: the models
    assert browser.execute_script("return document.documentElement.localName") == "svg"


def test_a_new_account_signs_in_changes_its_one_time_password_and_lands_in_the_inbox(browser: Any,
                                                                                     base_url: str) -> None:
    """The office adds an account on 账号管理 and reads its one-time password once; the new user signing in with
    it is sent to 修改密码 whatever page they ask for, and once changed lands in the inbox."""
    walk = Walk(browser, base_url)
    walk.sign_in("office")
    walk.open("/people")
    walk.select(walk.find("#f-organisation_id")).select_by_visible_text(f"E1 {ENTERPRISE}")
    walk.fill("username", "newcomer")
    walk.fill("display_name", "新来的安全员")
    walk.fill("phone", "13800000000")
    walk.submit()
    one_time = walk.find("#one-time-password").text
    assert "newcomer" in walk.find("#accounts").text
    walk.shot("account-added")
    walk.sign_out()
    walk.open("/login")
    walk.find("#username").send_keys("newcomer")
    walk.find("#password").send_keys(one_time)
    walk.click("main form button[type=submit]")
    assert walk.driver.current_url.endswith("/password") and walk.find("#must-change")
    walk.open("/inbox")
    assert walk.driver.current_url.endswith("/password")
    walk.shot("forced-change")
    walk.find("#current_password").send_keys(one_time)
    walk.find("#new_password").send_keys("qwertyuiop")
    walk.find("#new_password_again").send_keys("qwertyuiop")
    walk.click("main form.card button[type=submit]")
    assert "新密码过于常见" in walk.find("main .error").text
    walk.find("#current_password").send_keys(one_time)
    walk.find("#new_password").send_keys("my-own-secret-2026")
    walk.find("#new_password_again").send_keys("my-own-secret-2026")
    walk.click("main form.card button[type=submit]")
    assert walk.driver.current_url.endswith("/inbox"), walk.text()
    assert walk.find("main h1")
    walk.shot("inbox-after-change")
