"""The engine layer alone: model validation, forms, clocked timers, save/restore."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import BPMN_DIR, T0

from workflow_app.engine import FormValidationError, ModelError, ProcessInstance, dump_spec, load_model, load_spec
from workflow_app.engine.calendar import is_working_day, working_days_before
from workflow_app.engine.parser import model_from_specs

XML = (BPMN_DIR / "hazard_lifecycle.bpmn").read_text(encoding="utf-8")
REPORT = {"source": "self_inspection", "hazard_level": "general", "category": "violation", "title": "通道堵塞",
          "description": "消防通道堆放货物", "location": "仓库", "found_on": "2026-11-01"}


@pytest.fixture(scope="module")
def model():
    return load_model(XML, "hazard_lifecycle.bpmn")


@pytest.mark.parametrize(("broken", "element", "words"), [
    (XML.replace('targetRef="Gateway_Level"', 'targetRef="Gateway_Nowhere"', 1), "Flow_ToLevel", ""),
    (XML.replace("working_days_before(rectification_deadline, 3)", "working_days_before(rectification_deadline, ",
                 1), "Timer_Reminder", "timer expression"),
    (XML.replace("rectification_mode = 'planned'", "rectification_mode = = 'planned'"), "Task_RecordPlan",
     "script"),
    (XML.replace('type="double"', 'type="money"', 1), "Task_PlanRectification", "unknown type"),
    (XML.replace("<bpmn:flowNodeRef>Task_ReviewPlan</bpmn:flowNodeRef>", ""), "Task_ReviewPlan", "lane"),
    (XML.replace('id="only_when" value="overdue"', 'id="only_when" value="late"'), "Task_Rectify", "only_when"),
    (XML.replace('id="shown_if" value="rectify_action=done"', 'id="shown_if" value="action=done"', 1),
     "Task_Rectify", "shown_if"),
])
def test_broken_models_are_refused_naming_the_element(broken, element, words):
    with pytest.raises(ModelError) as refused:
        load_model(broken, "broken.bpmn")
    assert refused.value.file_name == "broken.bpmn"
    assert element in str(refused.value)
    assert words in str(refused.value)


@pytest.mark.parametrize("broken", ["<bpmn:definitions", XML.replace("<bpmn:process ", "<bpmn:proces ", 1)])
def test_malformed_xml_is_refused_with_a_line(broken):
    with pytest.raises(ModelError) as refused:
        load_model(broken, "broken.bpmn")
    assert refused.value.line is not None


def test_model_declares_forms_lanes_and_timers(model):
    assert set(model.start_form.field_ids()) == {*REPORT, "photos_before"}
    assert model.start_form.fields[-1].type == "file"
    plan = model.forms["Task_PlanRectification"]
    assert [f.label for f in plan.fields][:2] == ["整改责任人", "整改措施"]
    assert all(f.required for f in plan.fields)


def test_timers_fire_at_the_engine_clock_not_the_wall_clock(model):
    instance, _ = ProcessInstance.start(model, {**REPORT, "hazard_level": "major"}, T0)
    task = instance.ready_user_tasks()[0]
    plan = {"responsible_person": "王五", "rectification_measures": "m", "rectification_funds": "1",
            "rectification_deadline": "2026-11-20", "emergency_plan": "e"}
    instance.complete_task(task.task_id, plan, T0)
    review = instance.ready_user_tasks()[0]
    instance.complete_task(review.task_id, {"review_decision": "approve", "review_opinion": "ok"}, T0)
    due = {t.bpmn_id: t.fire_at for t in instance.waiting_timers()}
    assert due["Timer_Reminder"] == datetime(2026, 11, 17, 1, 0, tzinfo=UTC)
    assert instance.fire_due_timers(due["Timer_Reminder"] - timedelta(microseconds=1)).fired_timers == []
    fired = instance.fire_due_timers(due["Timer_Reminder"]).fired_timers
    assert [f.bpmn_id for f in fired] == ["Timer_Reminder"]
    assert instance.fire_due_timers(due["Timer_Reminder"]).fired_timers == []


def test_state_round_trips_through_stored_spec_and_state(model):
    instance, _ = ProcessInstance.start(model, REPORT, T0)
    spec_text = dump_spec(model.spec, model.subprocess_specs)
    spec, subs = load_spec(spec_text)
    restored = ProcessInstance.restore(model_from_specs(spec, subs, "x.bpmn"), instance.state(), lambda: spec_text)
    task = restored.ready_user_tasks()[0]
    assert task.bpmn_id == "Task_ChooseRectification"
    assert task.form.fields[0].options[0] == ("immediate", "立即整改")
    assert restored.data["title"] == "通道堵塞"


def test_start_data_is_validated(model):
    with pytest.raises(FormValidationError) as invalid:
        ProcessInstance.start(model, {**REPORT, "found_on": "2026-13-01", "title": "x" * 201}, T0)
    assert {e.field_id: e.code for e in invalid.value.errors} == {"found_on": "not_a_date", "title": "too_long"}


def test_working_days_follow_the_chinese_calendar():
    assert not is_working_day(date(2026, 10, 1))  # National Day
    assert is_working_day(date(2026, 10, 10))  # a Saturday made a working day
    # one working day before Monday 2026-10-12 is that Saturday, not Friday the 9th
    assert working_days_before("2026-10-12", 1) == "2026-10-10T09:00:00+08:00"
