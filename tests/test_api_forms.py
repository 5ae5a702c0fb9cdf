"""The forms the API serves as JSON Schema say what the server enforces: a payload the schema accepts, the
server accepts; what the server refuses, the schema refuses too (and, for which fields must be filled, the
two agree exactly)."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from conftest import T0
from helpers import PLAN, REPORT, open_task
from web_support import make_app, png

from workflow_app.engine import FieldSpec, FormSpec, FormValidationError, load_model, validate_submission
from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction
from workflow_app.web.api.form_schemas import form_schema

BPMN = Path(__file__).parent.parent / "bpmn"
SHA = "ab" * 32
GOOD = {"string": ["文本"], "long": [3, 3.0], "double": [2.5, 0], "boolean": [True, False],
        "date": ["2026-11-20"], "file": [[SHA]]}
"""Filled values of each type that the server takes."""
BAD = {"string": ["", "   ", 5], "long": ["x", 2.5, None], "double": ["x", True], "boolean": ["perhaps"],
       "date": ["", "2026-13-40", "昨天", 20261120], "file": [[], "x", [5]], "enum": ["", "nope", None]}
"""Blank or wrong values of each type."""


def _forms() -> list[tuple[str, FormSpec]]:
    """Every form of every shipped model, as it applies to a record on time and to a late one."""
    forms = []
    for path in sorted(BPMN.glob("*.bpmn")):
        model = load_model(path.read_bytes(), path.name)
        for key, form in sorted(model.forms.items()):
            for facts in (frozenset(), frozenset({"overdue"})):
                forms.append((f"{path.stem}:{key}:{'+'.join(facts) or 'on-time'}", form.for_facts(facts)))
    return forms


def _server_takes(form: FormSpec, data: dict[str, Any]) -> bool:
    try:
        validate_submission(form, data)
    except FormValidationError:
        return False
    return True


def _good(spec: FieldSpec) -> list[Any]:
    """Filled values `spec` takes: its options, or a value of its type within its limits."""
    if spec.type == "enum":
        return [o for o, _ in spec.options]
    if spec.type in ("long", "double") and "min" in spec.limits:
        low = spec.limits["min"]
        return [int(low), float(low)] if spec.type == "long" else [low, int(low)]
    return GOOD.get(spec.type, ["文本"])


def _payload(form: FormSpec, rng: random.Random, bad: bool) -> dict[str, Any]:
    """Each field absent or filled well (and, when `bad`, sometimes blank or wrong)."""
    data: dict[str, Any] = {}
    absent = rng.choice([0.0, 0.1, 0.35])
    for spec in form.fields:
        roll = rng.random()
        if roll < absent:
            continue
        good = _good(spec)
        data[spec.id] = rng.choice(BAD.get(spec.type, [""]) if bad and roll > 0.85 else good)
    return data


@pytest.mark.parametrize(("name", "form"), _forms(), ids=[name for name, _ in _forms()])
def test_a_form_schema_accepts_only_what_the_server_takes(name, form):
    validator = jsonschema_rs.Draft202012Validator(form_schema(form), validate_formats=True)
    rng = random.Random(name)
    outcomes = set()
    for round_ in range(600):
        bad = round_ % 2 == 1
        data = _payload(form, rng, bad)
        schema_ok, server_ok = validator.is_valid(data), _server_takes(form, data)
        assert server_ok or not schema_ok, f"the schema takes what the server refuses: {data}"
        if not bad:
            assert schema_ok == server_ok, f"the server takes what the schema refuses: {data}"
        outcomes.add(server_ok)
    assert outcomes == {True, False} or not form.fields


def test_rectification_requires_photos_result_and_date_when_done_but_not_for_an_extension():
    model = load_model((BPMN / "hazard_lifecycle.bpmn").read_bytes(), "hazard_lifecycle.bpmn")
    schema = form_schema(model.forms["Task_Rectify"].for_facts(frozenset()))
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    assert schema["required"] == [] and schema["properties"]["rectify_action"]["default"] == "done"
    done = {"rectification_result": "已更换", "rectified_on": "2026-11-10", "photos_after": [SHA]}
    assert validator.is_valid(done) and validator.is_valid({**done, "rectify_action": "done"})
    for missing in done:
        assert not validator.is_valid({k: v for k, v in done.items() if k != missing}), missing
    assert not validator.is_valid({**done, "photos_after": []})
    assert not validator.is_valid({**done, "rectification_result": "  "})
    assert validator.is_valid({"rectify_action": "extend", "requested_deadline": "2026-12-01",
                               "extension_reason": "设备到货延迟"})
    assert not validator.is_valid({"rectify_action": "extend", "requested_deadline": "2026-12-01"})
    assert "overdue_explanation" not in schema["properties"]
    late = form_schema(model.forms["Task_Rectify"].for_facts(frozenset({"overdue"})))
    assert not jsonschema_rs.Draft202012Validator(late, validate_formats=True).is_valid(done)


def test_the_hazard_report_form_lists_the_codes_the_server_takes(factory, zone, tmp_path):
    app = make_app(factory, tmp_path, T0)
    client, headers = app.test_client(), _token(factory, zone.principal)
    schema = client.get("/api/v1/forms/hazard-report", headers=headers).json
    assert set(schema["properties"]["source"]["enum"]) == {"self_inspection", "enforcement", "public_report",
                                                           "whistleblower", "lesson_learned"}
    assert schema["properties"]["hazard_level"]["enum"] == ["general", "major"]
    assert schema["properties"]["category"]["enum"] == ["equipment", "violation", "management"]
    assert set(schema["required"]) == {"source", "hazard_level", "category", "title", "description", "location",
                                       "found_on"}
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    assert validator.is_valid(REPORT)
    wrong = {**REPORT, "category": "weather", "title": " "}
    assert not validator.is_valid(wrong)
    refused = client.post("/api/v1/hazards", json={"enterprise_id": zone.enterprise_id, "data": wrong},
                          headers=headers)
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"category", "title"}
    assert client.post("/api/v1/hazards", json={"enterprise_id": zone.enterprise_id, "data": REPORT},
                       headers=headers).status_code == 201


def _token(factory, user) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "forms", ["read", "write"], 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def _filled(schema: dict[str, Any], chosen: dict[str, Any], photo: str) -> dict[str, Any]:
    """A payload the schema takes: `chosen` values, then every field the schema requires given them."""
    values = {"string": "文本", "long": 1, "number": 1, "boolean": True, "array": [photo]}
    data = dict(chosen)
    for _ in range(3):  # conditions may depend on fields added by another condition
        needed = list(schema["required"])
        for rule in schema.get("allOf", []):
            if jsonschema_rs.is_valid(rule["if"], data):
                needed += rule["then"]["required"]
        for name in needed:
            field = schema["properties"][name]
            if name not in data:
                data[name] = field.get("const", field.get("enum", [None])[0] if "enum" in field else
                                       "2026-11-20" if field.get("format") == "date" else values[field["type"]])
    return data


def test_each_form_of_the_major_loop_takes_what_its_schema_takes_and_refuses_as_it_says(factory, zone, tmp_path):
    app = make_app(factory, tmp_path, T0)
    client = app.test_client()
    enterprise, department = _token(factory, zone.principal), _token(factory, zone.department)
    reported = client.post("/api/v1/hazards", json={"enterprise_id": zone.enterprise_id, "data": REPORT},
                           headers=enterprise).json
    photo = client.post(f"/api/v1/hazards/{reported['id']}/attachments", headers=enterprise,
                        data={"file": (io.BytesIO(png("green")), "after.png"), "stage": "after"},
                        content_type="multipart/form-data").json
    assert photo["stage"] == "photos_after"
    steps = [("Task_PlanRectification", enterprise, {k: v for k, v in PLAN.items() if k != "rectification_funds"}),
             ("Task_ReviewPlan", department, {"review_decision": "approve"}),
             ("Task_Rectify", enterprise, {"rectify_action": "done"}),
             ("Task_DepartmentVerify", department, {"verification_result": "passed"})]
    for bpmn_id, headers, chosen in steps:
        task = open_task(factory, reported["id"])
        assert task.bpmn_id == bpmn_id
        got = client.get(f"/api/v1/tasks/{task.task_id}", headers=headers)
        schema = got.json["form"]
        validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
        data = _filled(schema, chosen, photo["sha256"])
        assert validator.is_valid(data), (bpmn_id, data)
        url, etag = f"/api/v1/tasks/{task.task_id}/complete", {"If-Match": got.headers["ETag"]}
        for left_out in data:
            partial = {k: v for k, v in data.items() if k != left_out}
            if validator.is_valid(partial):
                continue
            refused = client.post(url, json={"data": partial}, headers={**headers, **etag})
            assert refused.status_code == 422, (bpmn_id, left_out, refused.json)
            violated = {e.instance_path[0] if e.instance_path else None for e in validator.iter_errors(partial)}
            assert set(refused.json["errors"]) <= {left_out}, (bpmn_id, refused.json)
            assert violated, bpmn_id
        done = client.post(url, json={"data": data}, headers={**headers, **etag})
        assert done.status_code == 200, (bpmn_id, done.json)
    detail = client.get(f"/api/v1/hazards/{reported['id']}", headers=enterprise).json
    assert detail["status"] == "closed"
