"""Rewards for reporting a major hazard (issue #19, "Rewards"): the rule, the suggestion, the award, the bulletin.

《安全生产领域举报奖励办法》(应急〔2018〕19号) 第十二条: 举报重大事故隐患的，奖励金额按照行政处罚金额的15%计算，
最低奖励3000元，最高不超过30万元. The plan (三(3), 三(4)) asks to 落实安全生产领域举报奖励办法 and to pay
rewards promptly (及时兑现相应奖励).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import T0, Zone
from helpers import PLAN, complete, hazard, open_task, snapshot
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.engine import FormValidationError
from workflow_app.reports.bulletin import monthly_bulletin
from workflow_app.services import hazards, rewards, tasks
from workflow_app.services.campaigns import CampaignConfig, start_campaign
from workflow_app.services.errors import InvalidInputError
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Hazard, Inspection, Penalty

CAMPAIGNS = Path(__file__).resolve().parents[1] / "campaigns"
ACCEPT_MAJOR = {"triage_decision": "accept", "hazard_level": "major", "triage_opinion": "属实，判定为重大隐患"}
PUBLIC = {"source": "public_report", "hazard_level": "major", "category": "equipment", "title": "储罐区报警器失效",
          "description": "可燃气体报警器不报警", "location": "储罐区", "found_on": "2026-11-01"}
AWARD = {"reward_decision": "award", "reward_reason": "举报重大事故隐患，经核查属实"}


def _reported(factory: sessionmaker[Session], zone: Zone, when: datetime) -> int:
    """A public report of a major hazard with the reporter's name and phone (for the office only)."""
    with transaction(factory) as s:
        return hazards.report_hazard(s, None, zone.enterprise_id, PUBLIC, when,
                                     reporter=("李举报", "13900001111")).hazard_id


def _to_reward_decision(factory: sessionmaker[Session], zone: Zone, hid: int) -> None:
    """Confirm, plan, review, rectify and verify: the office's reward decision is open."""
    for actor, data in ((zone.office, ACCEPT_MAJOR), (zone.principal, PLAN),
                        (zone.department, {"review_decision": "approve", "review_opinion": "同意"}),
                        (zone.principal, {"rectification_result": "已完成", "rectified_on": "2026-11-10"}),
                        (zone.department, {"verification_result": "passed", "verification_opinion": "整改到位"})):
        complete(factory, actor, hid, data, T0)
    assert open_task(factory, hid).bpmn_id == "Task_RewardDecision"


def _fines(factory: sessionmaker[Session], zone: Zone, hid: int | None, *amounts: float | None,
           kind: str = "fine") -> None:
    """Penalties decided on an inspection of the zone's enterprise (as the enforcement pages record them)."""
    with transaction(factory) as s:
        inspection = Inspection(enterprise_id=zone.enterprise_id, department_id=zone.department.organisation_id,
                                team="第一组", inspected_on=date(2026, 11, 3), findings="报警器失效",
                                recorded_by_id=zone.department.id, recorded_at=T0)
        s.add(inspection)
        s.flush()
        start = s.scalar(select(Penalty.id).order_by(Penalty.id.desc()).limit(1)) or 0
        for n, amount in enumerate(amounts, start=start + 1):
            s.add(Penalty(inspection_id=inspection.id, enterprise_id=zone.enterprise_id,
                          department_id=zone.department.organisation_id, hazard_id=hid, case_number=f"罚-{n}",
                          legal_basis="《安全生产法》第一百零二条", kind=kind, amount=amount,
                          target="unit" if n % 2 else "principal", target_name="E1单位", decided_by="应急管理分局",
                          decided_on=date(2026, 11, 4), recorded_by_id=zone.department.id, recorded_at=T0))


def _decide(factory: sessionmaker[Session], zone: Zone, hid: int, amount: object, when: datetime = T0) -> None:
    task = open_task(factory, hid)
    with transaction(factory) as s:
        tasks.complete_task(s, zone.office, task.task_id, {**AWARD, "reward_amount": amount}, when)


def test_the_national_rule_suggests_fifteen_percent_of_the_fines_within_3000_and_300000() -> None:
    """应急〔2018〕19号: 15 % of the fines, at least 3,000 yuan, at most 300,000 yuan."""
    rule = rewards.NATIONAL_RULE
    assert (rule.share, rule.minimum, rule.maximum) == (Decimal("0.15"), 3000, 300000)
    assert rule.suggested(Decimal("40000")) == Decimal("6000.00")
    assert rule.suggested(Decimal("0")) == Decimal("3000.00")  # no fine (yet): the minimum
    assert rule.suggested(Decimal("3000000")) == Decimal("300000.00")


def test_an_award_follows_the_rule_and_sets_the_hazards_reward_in_the_same_step(factory, zone: Zone) -> None:
    """Without a campaign the national rule applies (应急〔2018〕19号: 15 % of the fines, 3,000-300,000 yuan);
    only fines on this hazard count (the unit's and the principal's under 一案双罚), not warnings or other hazards."""
    hid = _reported(factory, zone, T0)
    _to_reward_decision(factory, zone, hid)
    _fines(factory, zone, hid, 30000, 10000)
    _fines(factory, zone, hid, None, kind="warning")
    _fines(factory, zone, None, 500000)
    with transaction(factory) as s:
        suggested = rewards.suggestion(s, s.get(Hazard, hid))
    assert (suggested.campaign, suggested.fines, suggested.amount) == (None, Decimal("40000"), Decimal("6000.00"))

    before = snapshot(factory, hid)
    for outside in (2000, 300000.01):
        with pytest.raises(FormValidationError) as refused:
            _decide(factory, zone, hid, outside)
        assert [(e.field_id, e.code) for e in refused.value.errors] == [("reward_amount", "reward_outside_rule")]
        assert "3,000 至 300,000 元" in refused.value.errors[0].message
    assert snapshot(factory, hid) == before and hazard(factory, hid).reward_amount is None

    _decide(factory, zone, hid, "6000", T0 + timedelta(days=9))
    granted = hazard(factory, hid)
    assert (granted.reward_amount, granted.rewarded_at) == (Decimal("6000.00"), T0 + timedelta(days=9))
    with transaction(factory) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "grant_reward")).one()
    assert entry.detail["amount"] == "6000.00" and entry.detail["suggested"] == "6000.00"
    assert entry.detail["rule"] == {"share": "0.15", "minimum": "3000", "maximum": "300000"}


def test_the_rule_of_the_campaign_running_when_the_hazard_was_reported_applies(factory, zone: Zone,
                                                                                  tmp_path: Path) -> None:
    """A campaign file's [rewards] table replaces the national default for hazards reported while it runs
    (from its start to the end of its summary phase); before and after, the national rule (应急〔2018〕19号)."""
    text = (CAMPAIGNS / "2024.toml").read_text(encoding="utf-8")
    assert "[rewards]" in text
    (tmp_path / "local.toml").write_text(text.replace("share = 0.15", "share = 0.1").replace(
        "minimum = 3000", "minimum = 1000").replace("maximum = 300000", "maximum = 50000"), encoding="utf-8")
    config = CampaignConfig.load(tmp_path / "local.toml")
    with transaction(factory) as s:
        campaign = start_campaign(s, None, config, datetime(2024, 4, 1, 1, tzinfo=UTC))
        assert campaign.params["rewards"] == {"share": "0.1", "minimum": "1000", "maximum": "50000"}
    during = _reported(factory, zone, datetime(2024, 11, 30, 15, tzinfo=UTC))  # 11-30 23:00 Shanghai: last day
    after = _reported(factory, zone, datetime(2024, 11, 30, 16, tzinfo=UTC))  # 12-01 00:00 Shanghai
    before = _reported(factory, zone, datetime(2024, 3, 31, tzinfo=UTC))
    _fines(factory, zone, during, 20000)
    with transaction(factory) as s:
        local = rewards.suggestion(s, s.get(Hazard, during))
        assert (local.campaign, local.amount) == (config.name, Decimal("2000.00"))
        rewards.check_award(s, s.get(Hazard, during), {**AWARD, "reward_amount": "1500"})
        with pytest.raises(FormValidationError, match="1,000 至 50,000 元"):
            rewards.check_award(s, s.get(Hazard, during), {**AWARD, "reward_amount": "60000"})
        for outside in (after, before):
            assert rewards.rule_for(s, s.get(Hazard, outside)) == (rewards.NATIONAL_RULE, None)
            with pytest.raises(FormValidationError, match="应急〔2018〕19号"):
                rewards.check_award(s, s.get(Hazard, outside), {**AWARD, "reward_amount": "1500"})


@pytest.mark.parametrize("table", ["share = 1.5", "share = 0.1\nminimum = 9000\nmaximum = 5000", "bonus = 1",
                                   'share = "lots"'])
def test_a_wrong_rewards_table_is_refused_with_the_file_named(tmp_path: Path, table: str) -> None:
    text = (CAMPAIGNS / "2024.toml").read_text(encoding="utf-8").split("[rewards]")[0]
    (tmp_path / "wrong.toml").write_text(f"{text}[rewards]\n{table}\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"wrong\.toml.*\[rewards\]"):
        CampaignConfig.load(tmp_path / "wrong.toml")
    assert CampaignConfig.load(CAMPAIGNS / "2023.toml").rewards == rewards.NATIONAL_RULE


def test_the_office_sees_the_rule_and_suggestion_on_the_form_and_a_wrong_amount_is_refused(
        factory, zone: Zone, tmp_path: Path) -> None:
    hid = _reported(factory, zone, T0)
    _to_reward_decision(factory, zone, hid)
    _fines(factory, zone, hid, 100000)
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "office")
    url = f"/tasks/{open_task(factory, hid).task_id}"
    page = client.get(url).get_data(as_text=True)
    assert "按罚款金额的 15% 计算，最低 3,000 元，最高 300,000 元" in page and "国家规定（应急〔2018〕19号）" in page
    assert "本隐患罚款合计 100,000.00 元，建议奖励 15,000.00 元" in page and 'value="15000.00"' in page
    refused = client.post(url, data={**AWARD, "reward_amount": "500", "csrf_token": csrf(client, url)})
    assert refused.status_code == 422 and "奖励金额须在 3,000 至 300,000 元之间" in refused.get_data(as_text=True)
    assert hazard(factory, hid).reward_amount is None
    done = client.post(url, data={**AWARD, "reward_amount": "15000", "csrf_token": csrf(client, url)})
    assert done.status_code == 302 and hazard(factory, hid).reward_amount == Decimal("15000.00")


def test_the_bulletin_lists_rewards_granted_that_month_without_the_reporter(factory, zone: Zone) -> None:
    """The bulletin publishes rewards (plan 三(3): 对报告重大事故隐患的有功人员重奖) but never who reported:
    应急〔2018〕19号 requires the reporter's identity to be kept confidential."""
    granted = [_reported(factory, zone, T0) for _ in range(3)]
    for hid in granted:
        _to_reward_decision(factory, zone, hid)
    _fines(factory, zone, granted[0], 40000)
    _decide(factory, zone, granted[0], 6000, T0 + timedelta(days=5))
    _decide(factory, zone, granted[1], 3500.5, T0 + timedelta(days=6))
    _decide(factory, zone, granted[2], 9000, datetime(2026, 11, 30, 16, 30, tzinfo=UTC))  # 12-01 Shanghai
    out = io.BytesIO()
    with transaction(factory) as s:
        monthly_bulletin(s, "2026-11", out)
        codes = [s.get(Hazard, hid).code for hid in granted]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages).replace("\n", "")
    section = text[text.index("七、举报奖励"):]
    assert "本月兑现举报重大事故隐患奖励 2 项，合计 9,500.50 元" in section
    assert f"{codes[0]} E1单位 奖励 6,000.00 元" in section and f"{codes[1]} E1单位 奖励 3,500.50 元" in section
    assert codes[2] not in section
    assert "李举报" not in text and "13900001111" not in text
