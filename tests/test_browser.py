"""End to end in a real headless Chromium (Debian's chromium + chromium-driver, via Selenium):
a major hazard from report to close-out across an enterprise and its supervising department.

Screenshots of each step are saved under $WORKFLOW_APP_ARTIFACTS/e2e (default artifacts/e2e).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0, _org, _user
from sqlalchemy.orm import Session, sessionmaker
from web_support import png
from werkzeug.serving import make_server

from workflow_app.config import Settings
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import Sector
from workflow_app.web import create_app

pytestmark = pytest.mark.browser
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("WORKFLOW_APP_ARTIFACTS", "artifacts")) / "e2e"


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """The app on a real WSGI server in a thread, on its own SQLite file with a small zone."""
    engine = make_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
    factory: sessionmaker[Session] = make_session_factory(engine)
    init_db(engine, factory, BPMN_DIR, T0)
    with transaction(factory) as s:
        _org(s, "OFFICE", "office")
        dept = _org(s, "D1", "department")
        s.add(Sector(code="hazchem", name="危险化学品", department_id=dept.id))
        enterprise = _org(s, "E1", "enterprise", sector_code="hazchem")
        _user(s, "boss", "enterprise", enterprise)
        _user(s, "dept", "department", dept)
    settings = Settings(database_url="unused://", secret_key="e2e", bpmn_dir=BPMN_DIR,
                        instance_dir=tmp_path / "instance", secure_cookies=False)
    server = make_server("127.0.0.1", 0, create_app(settings, factory, clock=lambda: T0), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                    "chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=412,915"):
        options.add_argument(argument)  # a phone-sized window
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


class Walk:
    """The user's hands: sign in, fill fields, submit, and a screenshot per step."""

    def __init__(self, driver, base_url: str):  # type: ignore[no-untyped-def]
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select, WebDriverWait

        self.driver, self.base_url, self.by, self.select = driver, base_url, By, Select
        # while a page is being replaced Chromium may answer with errors: keep polling through them
        self.wait = WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots = 0

    def click(self, css: str) -> None:
        self.navigate(lambda: self.driver.find_element(self.by.CSS_SELECTOR, css).click())

    def navigate(self, action) -> None:  # type: ignore[no-untyped-def]
        """Do `action` and wait until the next page has replaced this one and finished loading."""
        self.driver.execute_script("window.__old_page = true")
        action()
        self.wait.until(lambda d: d.execute_script(
            "return !window.__old_page && document.readyState === 'complete'"))

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def sign_in(self, username: str) -> None:
        self.open("/login")
        self.driver.find_element(self.by.ID, "username").send_keys(username)
        self.driver.find_element(self.by.ID, "password").send_keys("pw")
        self.click("main form button[type=submit]")
        assert "/inbox" in self.driver.current_url

    def sign_out(self) -> None:
        self.click("form[action='/logout'] button")

    def fill(self, field: str, value: str) -> None:
        element = self.driver.find_element(self.by.ID, f"f-{field}")
        if element.get_attribute("type") == "date":  # typing into date inputs depends on the locale
            self.driver.execute_script("arguments[0].value = arguments[1]", element, value)
        else:
            element.clear()
            element.send_keys(value)

    def choose(self, field: str, value: str) -> None:
        self.select(self.driver.find_element(self.by.ID, f"f-{field}")).select_by_value(value)

    def submit(self) -> None:
        self.click("main form.card button[type=submit]")

    def open_first_task(self, name: str) -> None:
        self.open("/inbox")
        self.navigate(lambda: self.driver.find_element(self.by.LINK_TEXT, name).click())

    def text(self) -> str:
        return str(self.driver.find_element(self.by.TAG_NAME, "body").text)

    def shot(self, label: str) -> None:
        self.shots += 1
        self.driver.save_screenshot(str(ARTIFACTS / f"{self.shots:02d}-{label}.png"))


def test_major_hazard_from_report_to_close_out(browser, base_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    walk = Walk(browser, base_url)
    photo = tmp_path / "before.png"
    photo.write_bytes(png("orange", (320, 240)))

    walk.sign_in("boss")
    walk.open("/hazards/new")
    for field, value in (("source", "enforcement"), ("hazard_level", "major"), ("category", "equipment")):
        walk.choose(field, value)
    for field, value in (("title", "储罐区可燃气体报警器失效"), ("description", "报警器不报警"), ("location", "储罐区"),
                         ("found_on", "2026-11-01")):
        walk.fill(field, value)
    browser.find_element(walk.by.ID, "f-photos_before").send_keys(str(photo))
    walk.submit()
    assert "YH2026" in walk.text() and "待制定整改方案" in walk.text()
    assert browser.find_element(walk.by.CSS_SELECTOR, "img[src$='diagram.svg']").get_attribute("naturalWidth") != "0"
    walk.shot("reported")

    walk.open_first_task("制定治理方案（五落实）")
    for field, value in (("responsible_person", "王五"), ("rectification_measures", "更换报警器"),
                         ("rectification_funds", "2.5"), ("rectification_deadline", "2026-11-20"),
                         ("emergency_plan", "设置警戒区，专人值守")):
        walk.fill(field, value)
    walk.submit()
    assert "方案审核中" in walk.text()
    walk.shot("planned")
    walk.sign_out()

    walk.sign_in("dept")
    walk.open_first_task("审核治理方案")
    walk.choose("review_decision", "approve")
    walk.fill("review_opinion", "同意，按期整改")
    walk.submit()
    assert "挂牌督办" in walk.text() and "整改中" in walk.text()
    walk.shot("approved")
    walk.sign_out()

    walk.sign_in("boss")
    walk.open_first_task("实施整改")
    walk.fill("rectification_result", "已更换报警器并联调")
    walk.fill("rectified_on", "2026-11-10")
    walk.submit()
    assert "待验收" in walk.text()
    walk.shot("rectified")
    walk.sign_out()

    walk.sign_in("dept")
    walk.open_first_task("部门验收")
    walk.choose("verification_result", "passed")
    walk.fill("verification_opinion", "验收合格，同意销号")
    walk.submit()
    assert "已销号" in walk.text()
    walk.shot("closed")
    walk.sign_out()

    walk.sign_in("boss")
    assert "没有待办任务" in walk.text()
    walk.shot("empty-inbox")
