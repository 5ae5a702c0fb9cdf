"""The workflow-app command, run as a user would (on a SQLite file)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from conftest import BPMN_DIR

from workflow_app.cli import main


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_check_names_file_and_element_of_a_broken_model(run, tmp_path, monkeypatch):
    assert run("check").exit_code == 0
    broken_dir = tmp_path / "bpmn"
    broken_dir.mkdir()
    shutil.copy(BPMN_DIR / "hazard_lifecycle.bpmn", broken_dir)
    text = (BPMN_DIR / "hazard_lifecycle.bpmn").read_text(encoding="utf-8")
    (broken_dir / "broken.bpmn").write_text(text.replace("review_decision == 'approve'", "review_decision ==", 1),
                                            encoding="utf-8")
    monkeypatch.setenv("WORKFLOW_APP_BPMN_DIR", str(broken_dir))
    result = run("check")
    assert result.exit_code == 1
    assert "broken.bpmn" in result.output and "Gateway_ReviewDecision" in result.output


def test_demo_report_complete_sweep_and_audit_from_the_command_line(run):
    first = run("demo", "--now", "2026-11-25T09:00:00+08:00")
    assert first.exit_code == 0 and "demo data created" in first.output and "demo-2026" in first.output
    again = run("demo", "--now", "2026-11-25T09:00:00+08:00")
    assert "nothing changed" in again.output

    reported = run("hazard", "report", "--user", "e005", "--enterprise", "E005", "--field", "source=self_inspection",
                   "--field", "hazard_level=general", "--field", "category=management", "--field", "title=台账缺失",
                   "--field", "description=未建立隐患台账", "--field", "location=办公室", "--field",
                   "found_on=2026-11-24", "--now", "2026-11-25T10:00:00+08:00")
    assert reported.exit_code == 0, reported.output
    code = reported.output.split()[0]
    listed = run("task", "list", "--user", "e005").output
    task_id = next(line.split()[0] for line in listed.splitlines() if "确定整改方式" in line)

    refused = run("task", "complete", task_id, "--user", "e005", "--field", "rectification_mode=someday")
    assert refused.exit_code == 1 and "rectification_mode" in refused.output
    done = run("task", "complete", task_id, "--user", "e005", "--field", "rectification_mode=planned")
    assert done.exit_code == 0 and "确定整改方式" in done.output
    assert code in run("hazard", "list", "--user", "e005").output
    assert code not in run("hazard", "list", "--user", "e006").output

    judged = run("hazard", "report", "--user", "e005", "--enterprise", "E005", "--field", "source=self_inspection",
                 "--field", "hazard_level=general", "--field", "category=equipment", "--field", "title=除尘器无泄爆",
                 "--field", "description=干式除尘器未设泄爆口", "--field", "location=抛光车间", "--field",
                 "found_on=2026-11-24", "--item", "GM-2023 第十一条(三)", "--now", "2026-11-25T10:00:00+08:00")
    assert judged.exit_code == 0, judged.output
    listed = run("hazard", "list", "--user", "e005").output
    assert next(line for line in listed.splitlines() if judged.output.split()[0] in line).count("major") == 1
    unknown = run("hazard", "report", "--user", "e005", "--enterprise", "E005", "--item", "GM-2023 第九十九条",
                  "--field", "title=x")
    assert unknown.exit_code == 1 and "no standard item 'GM-2023 第九十九条'" in unknown.output

    moved = run("user", "principal", "e005-safety")  # one principal per enterprise: e005 no longer signs
    assert moved.exit_code == 0 and "instead of e005" in moved.output
    assert run("user", "principal", "office").exit_code == 1

    swept = run("sweep", "--now", "2027-06-01T00:00:00+08:00")
    assert swept.exit_code == 0 and "timer(s) fired" in swept.output
    assert run("sweep", "--now", "2027-06-01T00:00:00+08:00").output.strip() == "0 timer(s) fired"
    assert run("audit", "verify").exit_code == 0


def test_deploy_a_third_party_model_start_a_case_and_clear_its_incident_from_the_command_line(run):
    assert run("demo", "--now", "2026-11-25T09:00:00+08:00").exit_code == 0
    model = str(BPMN_DIR.parent / "tests" / "models" / "equipment_repair.bpmn")
    refused = run("deploy", model)
    assert refused.exit_code == 1 and "maps to no role" in refused.output
    deployed = run("deploy", model, "--lane", "Requester=enterprise", "--lane", "Supervisor=department")
    assert "deployed" in deployed.output
    shown = run("models", "show", "equipment_repair").output
    assert "Activity_Assess" in shown and "urgent, comment (generic" in shown
    started = run("case", "start", "equipment_repair", "--user", "e001-safety", "--title", "空压机异响")
    assert started.exit_code == 0 and "ER-2026-" in started.output
    listed = run("task", "list", "--user", "e001-safety").output
    task_id = next(line.split()[0] for line in listed.splitlines() if "Assess fault" in line)
    assert run("task", "complete", task_id, "--user", "e001-safety", "--json", '{"urgent": false}').exit_code == 0
    incidents = run("incidents", "list").output
    assert "Activity_Cost" in incidents and "hours" in incidents
    incident_id = incidents.split()[0]
    assert run("incidents", "retry", incident_id, "--user", "office", "--json", "[]").exit_code != 0
    assert "retried" in run("incidents", "retry", incident_id, "--user", "office",
                            "--json", '{"hours": 2, "rate": 100}').output
    assert "Activity_Cost" not in run("incidents", "list").output


def test_spot_check_draw_and_its_reproduction_from_the_command_line(run):
    assert run("demo", "--now", "2026-11-25T09:00:00+08:00").exit_code == 0
    drawn = run("spot-check", "draw", "--user", "office", "--month", "2026-11", "--rate", "0.5", "--seed", "42")
    assert drawn.exit_code == 0 and "(seed 42)" in drawn.output and "YH2026" in drawn.output
    assert run("spot-check", "draw", "--user", "office", "--month", "2026-11").exit_code == 1  # once a month
    verified = run("spot-check", "verify", "2026-11")
    assert verified.exit_code == 0 and "reproducible" in verified.output


def test_standards_export_and_a_refused_import_from_the_command_line(run, tmp_path):
    assert run("init-db").exit_code == 0
    out = tmp_path / "standards.xlsx"
    exported = run("standards", "export", str(out))
    assert exported.exit_code == 0 and out.stat().st_size > 0 and "items written" in exported.output
    broken = tmp_path / "broken.csv"
    broken.write_text("standard_code,kind,title,issuer,doc_number,effective_from,sectors,replaces,complete,number,"
                      "group,text\nX-1,standard,,机关,号,2026-01-01,industry,,是,1,,条款\n", encoding="utf-8")
    assert run("demo", "--now", "2026-11-25T09:00:00+08:00").exit_code == 0
    refused = run("standards", "import", str(broken), "--user", "office")
    assert refused.exit_code == 1 and "第 2 行" in refused.output and "title 不能为空" in refused.output
