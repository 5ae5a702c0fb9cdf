"""Driving Debian's headless Chromium (chromium + chromium-driver, via Selenium) in the browser tests: start it,
read its console for Content-Security-Policy violations, run axe-core (from node_modules, installed by `npm ci`;
never loaded from the internet) and save screenshots under $WORKFLOW_APP_ARTIFACTS (default artifacts/)."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BLOCKING = ("serious", "critical")
"""The impacts that fail a page; minor and moderate findings are left to judgement."""
CSP_VIOLATION = re.compile(r"Content Security Policy|Refused to")
SHELL = "header.top"
"""The page shell (templates/base.html): its header, menu and notices badge."""
AXE_RUN = """
const [tags, shell, done] = arguments;
const node = n => ({target: n.target.join(' '), shell: !!document.querySelector(n.target[0])?.closest(shell)});
// axe leaves the contrast of very short text (a count badge: "3") to review, though it measured it
const measured = n => n.any.map(check => check.data || {}).find(d => d.messageKey === 'shortTextContent'
  && typeof d.contrastRatio === 'number' && d.contrastRatio < parseFloat(d.expectedContrastRatio));
const short = v => v.nodes.filter(measured).map(n => ({id: v.id, impact: v.impact, nodes: [node(n)],
  help: `${v.help} (short text: ${measured(n).contrastRatio}:1, needs ${measured(n).expectedContrastRatio})`}));
axe.run(document, {runOnly: {type: 'tag', values: tags}})
  .then(result => done([
    ...result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(node)})),
    ...result.incomplete.filter(v => v.id === 'color-contrast').flatMap(short)]))
  .catch(error => done([{id: 'axe-error', impact: 'critical', help: String(error), nodes: []}]));
"""


def artifacts(*parts: str) -> Path:
    """A folder under $WORKFLOW_APP_ARTIFACTS (default artifacts/), made if missing."""
    folder = Path(os.environ.get("WORKFLOW_APP_ARTIFACTS", "artifacts"), *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """`app` on a real WSGI server in a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium(width: int, height: int) -> Iterator[Any]:
    """Debian's headless Chromium in a window of this size, Chinese first; never a downloaded browser or driver."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--hide-scrollbars", "--lang=zh-CN"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, read for CSP violations
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def assert_no_csp_violation(driver: Any) -> None:
    """Fail on any Content-Security-Policy violation the console reported since the last look."""
    violations = [entry["message"] for entry in driver.get_log("browser") if CSP_VIOLATION.search(entry["message"])]
    assert not violations, f"{driver.current_url}: {violations}"


class ShellViolations(AssertionError):
    """axe's serious or critical findings on a page all lie in the page shell (base.html, app.css): the `shell`
    branch of issue #20 fixes them; tests that only meet these are marked xfail(raises=ShellViolations) until
    it is merged."""


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """The WCAG 2.0/2.1 A and AA violations axe-core finds on the page now, each with id, impact, help and its
    targets (CSS selectors), each saying whether it lies in the shell; plus the colour contrasts axe measured too
    low on text it deems too short to judge (it leaves those to review: a count badge is text all the same).
    Skips when axe-core is not installed."""
    if not AXE.is_file():
        pytest.skip(f"{AXE} missing: run `npm ci` (CI installs axe-core from package-lock.json)")
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    found = driver.execute_async_script(AXE_RUN, list(AXE_TAGS), SHELL)
    return list(found)


def shell_owned(violation: dict[str, Any]) -> bool:
    """Whether a finding is the shell's to fix: every node lies in base.html's header, or it is a colour contrast
    (the colours are app.css's rules)."""
    return violation["id"] == "color-contrast" or all(node["shell"] for node in violation["nodes"])


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
                     for v in violations)


def assert_accessible(driver: Any, page: str) -> None:
    """No serious or critical axe finding on the page (every finding is written to artifacts/axe/<page>.json).
    Findings that are all the shell's raise ShellViolations
    (an AssertionError), anything else a plain AssertionError."""
    found = axe_violations(driver)
    (artifacts("axe") / f"{page}.json").write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    blocking = [v for v in found if v["impact"] in BLOCKING]
    if not blocking:
        return
    message = f"{page}: axe-core found serious or critical WCAG violations:\n{describe(blocking)}"
    if all(shell_owned(v) for v in blocking):
        raise ShellViolations(message)
    raise AssertionError(message)


def assert_no_horizontal_scroll(driver: Any, page: str) -> None:
    wide, window = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert wide <= window + 1, f"{page}: the page scrolls sideways ({wide} px wide in a {window} px window)"


def assert_visible(driver: Any, css: str, page: str) -> Any:
    """The element is displayed and lies within the window's width (nothing a user needs is cut off at the side);
    scrolled into view first. Returns it."""
    from selenium.webdriver.common.by import By

    elements = driver.find_elements(By.CSS_SELECTOR, css)
    assert elements, f"{page}: no {css}"
    element = elements[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    assert element.is_displayed(), f"{page}: {css} is not displayed"
    left, right, window = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.left, r.right, window.innerWidth]", element)
    assert left >= -1 and right <= window + 1, f"{page}: {css} spans {left}–{right} px, outside the {window} px window"
    return element
