"""Schemathesis against the served app's own OpenAPI document: no server error, and every
response matches the schema it documents."""

from __future__ import annotations

import pytest
import schemathesis
from conftest import T0
from helpers import PLAN, complete, report
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from web_support import make_app

from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction


@pytest.fixture
def served(factory, zone, tmp_path):
    """The app with some data, and a read/write token of the enterprise."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    with transaction(factory) as s:
        plain, _ = create_token(s, zone.principal, "schemathesis", ["read", "write"], 30, T0)
    return make_app(factory, tmp_path, T0), plain


def test_every_operation_answers_as_documented(served, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("one run is enough")
    app, token = served
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures = []
    for operation in schema.get_all_operations():
        strategy = operation.ok().as_strategy()

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=strategy)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # collect every operation's first failure, then report them all
            failures.append(f"{operation.ok().verbose_name}: {exc}")
    assert failures == []
