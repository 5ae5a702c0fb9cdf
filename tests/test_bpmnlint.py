"""Our own models pass bpmnlint's recommended rules (.bpmnlintrc), but for the exceptions written down.

bpmnlint (npm, package.json) runs on each model in bpmn/; every problem it reports fails the test unless
bpmn/lint-exceptions.json names that file, element and rule with a reason. An exception that no longer
matches a report fails too, so the list only holds what is still needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BPMNLINT = ROOT / "node_modules" / ".bin" / "bpmnlint"
EXCEPTIONS = ROOT / "bpmn" / "lint-exceptions.json"
MODELS = sorted((ROOT / "bpmn").glob("*.bpmn"))

# "  Timer_Monthly   warning  Incoming flows do not join   fake-join" (bpmnlint's stylish output)
PROBLEM = re.compile(r"^\s+(?P<element>\S+)\s+(?P<category>error|warning)\s+(?P<message>.+?)\s+(?P<rule>\S+)\s*$")
SUMMARY = re.compile(r"(?P<count>\d+) problems? \(")


def _exceptions() -> list[dict[str, str]]:
    entries = json.loads(EXCEPTIONS.read_text(encoding="utf-8"))
    assert isinstance(entries, list), "bpmn/lint-exceptions.json holds a list"
    for entry in entries:
        assert set(entry) == {"file", "element", "rule", "reason"}, entry
        assert (ROOT / "bpmn" / entry["file"]).is_file(), entry
        assert entry["reason"].strip(), f"exception without a reason: {entry}"
    return entries


def _lint(model: Path) -> list[dict[str, str]]:
    """The problems bpmnlint reports for one model (fails on output it cannot read, e.g. a parse error)."""
    result = subprocess.run([str(BPMNLINT), str(model)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"})
    output = result.stdout + result.stderr
    problems = [match.groupdict() for line in output.splitlines() if (match := PROBLEM.match(line))]
    summary = SUMMARY.search(output)
    expected = int(summary["count"]) if summary else 0
    if len(problems) != expected or (result.returncode != 0 and not problems):
        pytest.fail(f"bpmnlint said (exit {result.returncode}):\n{output}")
    return problems


def test_the_exceptions_are_well_formed() -> None:
    _exceptions()


def _faults(file_name: str, problems: list[dict[str, str]], exceptions: list[dict[str, str]]) -> list[str]:
    """Each problem no exception covers, and each exception of this file that covers no problem."""
    excepted = {(entry["element"], entry["rule"]) for entry in exceptions if entry["file"] == file_name}
    reported = {(problem["element"], problem["rule"]) for problem in problems}
    return ([f"{file_name}: {p['element']} {p['category']} {p['message']} ({p['rule']})"
             for p in problems if (p["element"], p["rule"]) not in excepted]
            + [f"{file_name}: exception for {element} ({rule}) matches no report: remove it"
               for element, rule in sorted(excepted - reported)])


def _need_bpmnlint() -> None:
    if not BPMNLINT.exists():
        pytest.skip("bpmnlint missing: run npm ci")


@pytest.mark.parametrize("model", MODELS, ids=[model.name for model in MODELS])
def test_model_is_bpmnlint_clean(model: Path) -> None:
    _need_bpmnlint()
    faults = _faults(model.name, _lint(model), _exceptions())
    assert not faults, "\n".join(faults)


FAKE_JOIN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="Start" name="开始"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="Choice" name="哪条？"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Task_Joined" name="办理"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End" name="结束"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Choice" />
    <bpmn:sequenceFlow id="f2" name="甲" sourceRef="Choice" targetRef="Task_Joined">
      <bpmn:conditionExpression>a</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" name="乙" sourceRef="Choice" targetRef="Task_Joined">
      <bpmn:conditionExpression>not a</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="Task_Joined" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_fake_join_is_reported_and_only_a_matching_exception_excuses_it(tmp_path: Path) -> None:
    _need_bpmnlint()
    model = tmp_path / "joined.bpmn"
    model.write_text(FAKE_JOIN, encoding="utf-8")
    problems = _lint(model)
    assert [p for p in problems if p["rule"] != "no-bpmndi"] == [
        {"element": "Task_Joined", "category": "warning", "message": "Incoming flows do not join", "rule": "fake-join"}]
    no_diagram = [{"file": "joined.bpmn", "element": p["element"], "rule": p["rule"], "reason": "test"}
                  for p in problems if p["rule"] == "no-bpmndi"]
    assert no_diagram  # (the model has no diagram either)
    join = {"file": "joined.bpmn", "element": "Task_Joined", "rule": "fake-join", "reason": "test"}
    assert _faults("joined.bpmn", problems, [*no_diagram, join]) == []
    assert _faults("joined.bpmn", problems, no_diagram) == [
        "joined.bpmn: Task_Joined warning Incoming flows do not join (fake-join)"]
    assert _faults("other.bpmn", [], [*no_diagram, join]) == []
    stale = [*no_diagram, join, {"file": "joined.bpmn", "element": "End", "rule": "fake-join", "reason": "test"}]
    assert _faults("joined.bpmn", problems, stale) == [
        "joined.bpmn: exception for End (fake-join) matches no report: remove it"]
