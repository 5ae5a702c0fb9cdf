"""Rewards for reporting a major hazard (举报奖励): the rule, the suggested amount, the award.

The national rule (《安全生产领域举报奖励办法》, 应急〔2018〕19号) rewards a confirmed report of a
major hazard with a share of the fines imposed (15 %), at least 3,000 and at most 300,000 yuan.
A campaign file may set its own (`[rewards]`: share, minimum, maximum); the rule of the campaign
that was running when the hazard was reported applies, the national one when there was none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine import FieldError, FormValidationError
from ..store.models import Campaign, Hazard, Penalty
from .campaign_figures import reporting_ends_at

CENT = Decimal("0.01")


@dataclass(frozen=True)
class RewardRule:
    """A share of the fines, bounded by a minimum and a maximum (yuan)."""

    share: Decimal
    minimum: Decimal
    maximum: Decimal

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> RewardRule:
        """A rule from a campaign file's `[rewards]` table (missing keys: the national values); ValueError if wrong."""
        if not isinstance(raw, dict):
            raise ValueError("[rewards] must be a table: share, minimum, maximum")
        unknown = set(raw) - {"share", "minimum", "maximum"}
        if unknown:
            raise ValueError(f"[rewards] knows share, minimum and maximum, not {', '.join(sorted(unknown))}")
        try:
            values = {k: Decimal(str(raw.get(k, getattr(NATIONAL_RULE, k)))) for k in ("share", "minimum", "maximum")}
        except InvalidOperation:
            raise ValueError("[rewards] share, minimum and maximum must be numbers") from None
        rule = cls(**values)
        if not (0 < rule.share <= 1 and 0 <= rule.minimum <= rule.maximum):
            raise ValueError("[rewards] needs 0 < share <= 1 and 0 <= minimum <= maximum")
        return rule

    def as_params(self) -> dict[str, str]:
        """As kept in a campaign's params (JSON): exact decimal strings."""
        return {"share": str(self.share), "minimum": str(self.minimum), "maximum": str(self.maximum)}

    @property
    def percent(self) -> str:
        """The share as a percentage, without trailing zeros (15, 12.5)."""
        return f"{(self.share * 100).normalize():f}"

    def suggested(self, fines: Decimal) -> Decimal:
        """The share of the fines, clamped to [minimum, maximum], to the cent."""
        return min(max(fines * self.share, self.minimum), self.maximum).quantize(CENT)


NATIONAL_RULE = RewardRule(Decimal("0.15"), Decimal("3000"), Decimal("300000"))


@dataclass(frozen=True)
class RewardSuggestion:
    """What the reward decision's form shows: the rule, where it comes from, the fines and the amount."""

    rule: RewardRule
    campaign: str | None  # the campaign whose rule applies; None: the national rule
    fines: Decimal
    amount: Decimal


def rule_for(session: Session, hazard: Hazard) -> tuple[RewardRule, Campaign | None]:
    """The rule of the campaign running when `hazard` was reported (from its start to the end of its last
    phase, or its closing), else the national rule."""
    started = session.scalars(select(Campaign).where(Campaign.started_at <= hazard.reported_at)
                              .order_by(Campaign.started_at.desc(), Campaign.id.desc()))
    for campaign in started:
        until = reporting_ends_at(campaign)
        if campaign.closed_at is not None:
            until = min(until, campaign.closed_at)
        if hazard.reported_at < until:
            rewards = campaign.params.get("rewards")
            return (RewardRule.parse(rewards) if rewards else NATIONAL_RULE), campaign
    return NATIONAL_RULE, None


def fines_on(session: Session, hazard_id: int) -> Decimal:
    """The fines decided on the hazard (penalty records of kind fine), yuan."""
    total = session.scalar(select(func.sum(Penalty.amount)).where(Penalty.hazard_id == hazard_id,
                                                                 Penalty.kind == "fine"))
    return Decimal(str(total or 0))


def suggestion(session: Session, hazard: Hazard) -> RewardSuggestion:
    rule, campaign = rule_for(session, hazard)
    fines = fines_on(session, hazard.id)
    return RewardSuggestion(rule, campaign.name if campaign else None, fines, rule.suggested(fines))


def check_award(session: Session, hazard: Hazard, data: dict[str, Any]) -> None:
    """An award must lie within the rule's bounds (FormValidationError on reward_amount, nothing changed).

    An amount that is not a number is left to the form's own validation.
    """
    if data.get("reward_decision") != "award":
        return
    amount = _amount(data.get("reward_amount"))
    if amount is None:
        return
    rule, campaign = rule_for(session, hazard)
    if not rule.minimum <= amount <= rule.maximum:
        source = f"专项行动“{campaign.name}”的规则" if campaign else "国家规定（应急〔2018〕19号）"
        raise FormValidationError([FieldError(
            "reward_amount", "reward_outside_rule",
            f"奖励金额须在 {rule.minimum:,.0f} 至 {rule.maximum:,.0f} 元之间（{source}）")])


def record_award(hazard: Hazard, data: dict[str, Any], now: datetime) -> Decimal | None:
    """Set the hazard's reward from a completed decision; the amount granted, or None when not awarded."""
    amount = _amount(data.get("reward_amount")) if data.get("reward_decision") == "award" else None
    if amount is None:
        return None
    hazard.reward_amount, hazard.rewarded_at = float(amount.quantize(CENT)), now
    return amount.quantize(CENT)


def _amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip()) if value not in (None, "") else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() else None
