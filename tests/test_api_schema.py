"""Schemathesis against the app on a loopback server: every check, every phase (examples, coverage, fuzzing,
stateful), at least 50 examples per operation, and the run must report no failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import serving
from conftest import T0
from helpers import PLAN, complete, report
from web_support import make_app

from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 50
TIME_LIMIT = 400
"""Seconds the whole run may take before the test gives up (it takes about ... here)."""


@pytest.fixture
def served(factory, zone, tmp_path):
    """The app with a hazard in its loop, and a read/write token of the enterprise's principal."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    with transaction(factory) as s:
        plain, _ = create_token(s, zone.principal, "schemathesis", ["read", "write"], 30, T0)
    return make_app(factory, tmp_path, T0), plain


def test_schemathesis_finds_nothing(served, engine, tmp_path):
    if engine.dialect.name != "sqlite":
        pytest.skip("one run is enough")
    app, token = served
    report_path = tmp_path / "report.json"
    with serving(app) as base:
        run = subprocess.run(
            [str(SCHEMATHESIS), "--no-color", "--config-file", str(CONFIG), "run", f"{base}/api/v1/openapi.json", "--checks", "all",
             "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(EXAMPLES),
             "--header", f"Authorization: Bearer {token}", "--workers", "1", "--generation-database", "none",
             "--report", "json", "--report-json-path", str(report_path), "--output-truncate", "false",
             "--suppress-health-check", "all"],
            capture_output=True, text=True, timeout=TIME_LIMIT, check=False, cwd=tmp_path)
    summary = json.loads(report_path.read_text()) if report_path.exists() else {}
    failures = summary.get("failures", "no report")
    assert (run.returncode, failures) == (0, []), run.stdout + run.stderr
