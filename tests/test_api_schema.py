"""Schemathesis against the app on a loopback server: every check, every phase (examples, coverage, fuzzing,
stateful), at least 50 examples per operation, and the run must report no failure.

tests/schemathesis.toml names the few refusals of schema-valid requests that are right (a form's fields
belong to the deployed model, a file is judged by its bytes). A failure prints schemathesis' own report:
each failing call with its curl line.
"""

from __future__ import annotations

import json
import os
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
TIME_LIMIT = 600
"""Seconds the run may take before the test gives up (it takes about two minutes on one free core)."""


@pytest.fixture
def served(factory, zone, tmp_path):
    """The app with two hazards in their loop (one awaiting the principal's plan: a task to read and complete),
    and a read/write token of the enterprise's principal."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    report(factory, zone.principal, zone.enterprise_id, T0)
    with transaction(factory) as s:
        plain, _ = create_token(s, zone.principal, "schemathesis", ["read", "write"], 30, T0)
    return make_app(factory, tmp_path, T0), plain


SEED = [] if os.environ.get("SCHEMATHESIS_SEED") == "random" else ["--seed", os.environ.get("SCHEMATHESIS_SEED", "22")]
"""A fixed seed by default, so a CI run is repeatable; SCHEMATHESIS_SEED=random (or another number) explores."""


def test_schemathesis_finds_nothing(served, engine, tmp_path):
    if engine.dialect.name != "sqlite":
        pytest.skip("one run is enough")
    app, token = served
    summary = tmp_path / "report.json"
    with serving(app) as base:
        run = subprocess.run(
            [str(SCHEMATHESIS), "--no-color", "--config-file", str(CONFIG), "run", f"{base}/api/v1/openapi.json",
             "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(EXAMPLES),
             "--header", f"Authorization: Bearer {token}", "--workers", "1", "--generation-database", "none",
             "--suppress-health-check", "all", "--output-truncate", "false", *SEED,
             "--report", "json", "--report-json-path", str(summary)],
            capture_output=True, text=True, timeout=TIME_LIMIT, check=False, cwd=tmp_path)
    failures = json.loads(summary.read_text())["failures"] if summary.exists() else "no report"
    assert (run.returncode, failures) == (0, []), run.stdout + run.stderr
    tested = json.loads(summary.read_text())["operations"]
    assert tested["selected"] == tested["tested"] >= 18, tested
