"""The demo zone and the shipped data (issue #19, "Demo and data"): a demo at any date, the plan's
departments, and a standards seed for every sector the plan names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0
from sqlalchemy import select
from web_support import make_app, sign_in

from workflow_app.cli import main
from workflow_app.services import demo, standards
from workflow_app.services.errors import InvalidInputError
from workflow_app.services.evidence import EvidenceStore
from workflow_app.store.database import transaction
from workflow_app.store.models import InboxTask, Organisation, Sector, Standard, User

PLAN_DATE = datetime(2023, 5, 19, 1, 0, tzinfo=UTC)  # the day the plan was issued, 09:00 in Shanghai


@pytest.mark.parametrize("now", [PLAN_DATE, datetime(2024, 3, 12, 1, 0, tzinfo=UTC), None],
                         ids=["plan-issued", "2024", "real-now"])
def test_the_demo_loads_at_any_date_and_an_enterprise_user_sees_its_inbox(factory, tmp_path: Path,
                                                                         now: datetime | None) -> None:
    """Checklists are built from the items in force on the day they are built: on 2023-05-09 the 工贸
    standard of 2023 (应急管理部令第10号, in force 2023-05-15) is not yet, so the demo must not pick its items."""
    now = now or datetime.now(UTC)
    assert demo.seed(factory, now, EvidenceStore(tmp_path / "evidence"))
    with transaction(factory) as s:
        task = s.scalars(select(InboxTask).where(InboxTask.role == "enterprise", InboxTask.completed_at.is_(None))
                         .order_by(InboxTask.id)).first()
        assert task is not None
        username = s.scalars(select(User.username).where(User.organisation_id == task.organisation_id)).first()
    client = make_app(factory, tmp_path, now).test_client()
    sign_in(client, str(username), demo.DEMO_PASSWORD)
    page = client.get("/inbox")
    assert page.status_code == 200 and task.name in page.get_data(as_text=True)


def test_demo_takes_a_bare_date_on_the_command_line(tmp_path: Path, monkeypatch) -> None:
    """`workflow-app demo --now 2023-05-19` (the issue's command): a date means 09:00 that day in Shanghai."""
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("WORKFLOW_APP_INSTANCE_DIR", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["demo", "--now", "2023-05-19"], catch_exceptions=False)
    assert result.exit_code == 0 and "demo data created" in result.output
    refused = CliRunner().invoke(main, ["demo", "--now", "2023-05-32"])
    assert refused.exit_code == 2 and "YYYY-MM-DD" in refused.output


def test_the_demo_zone_has_the_departments_the_plan_names_and_each_sector_its_own(factory, tmp_path: Path) -> None:
    """Plan, 四(二): 应急管理分局、经济发展局(能源、工信)、公安、建设管理局(住建、交通)、自然资源分局、生态环境分局、
    文体和旅游局、市场监管分局、教育局以及消防救援机构 — transport is 建设管理局's (there is no 交通运输局)."""
    assert demo.seed(factory, PLAN_DATE, EvidenceStore(tmp_path / "evidence"))
    with transaction(factory) as s:
        departments = set(s.scalars(select(Organisation.name).where(Organisation.kind == "department")))
        supervisor = {code: name for code, name in s.execute(
            select(Sector.code, Organisation.name).join(Organisation, Organisation.id == Sector.department_id))}
    for named in ("应急管理分局", "经济发展局", "公安", "建设管理局", "自然资源分局", "生态环境分局", "文体和旅游局",
                  "市场监管分局", "教育局", "消防救援"):
        assert any(named in name for name in departments), named
    assert not any("交通运输局" in name for name in departments)
    assert {code: name.removeprefix("开发区") for code, name in supervisor.items()
            if code in ("construction", "gas", "transport", "hazchem", "fireworks", "industry", "fire",
                        "special_equipment")} == {
        "construction": "建设管理局", "gas": "建设管理局", "transport": "建设管理局", "hazchem": "应急管理分局",
        "fireworks": "应急管理分局", "industry": "应急管理分局", "fire": "消防救援大队",
        "special_equipment": "市场监管分局"}


def test_the_standards_seed_covers_every_sector_the_plan_names_and_invents_no_document_number(factory) -> None:
    """Plan, 一(一) and 二(二)1: 危险化学品、烟花爆竹、交通运输(含道路)、建筑施工、消防、燃气、工贸, and the sectors
    with a standard: 房屋市政、水利工程. 烟花爆竹: 安监总管三〔2017〕121号; 水利: 水安监〔2017〕344号. A number not
    confirmed is shown as 文号待核, never the title or the issuer in its place."""
    with transaction(factory) as s:
        seeded = list(s.scalars(select(Standard)))
    covered = {sector for standard in seeded for sector in standard.sectors}
    assert {"hazchem", "fireworks", "transport", "construction", "fire", "gas", "industry", "water"} <= covered
    numbers = {s.code: s.doc_number for s in seeded}
    assert numbers["YH-2017"] == "安监总管三〔2017〕121号" and numbers["SL-2017"] == "水安监〔2017〕344号"
    assert numbers["JT-2023"] == numbers["RQ-2023"] == "文号待核"
    assert all(s.doc_number not in (s.title, s.issuer) and not s.complete for s in seeded)
    header = ",".join(standards.COLUMNS)
    for flag in ("是", ""):  # a standard without items can't be complete
        rows = standards.read_table(f"{header}\nXX-1,standard,某标准,某机关,文号待核,2026-01-01,water,,{flag},,,\n"
                                    .encode(), "list.csv")
        with pytest.raises(InvalidInputError, match="第 2 行：没有条款的标准须标为不完整"), transaction(factory) as s:
            standards.import_rows(s, None, rows, T0)
