"""Spot-checks of closures (抽检销号): each month the office draws a random sample of the hazards
closed that month for re-verification; a failed re-verification reopens the hazard.

The draw is reproducible: the population (ids closed in the month, ascending) and the seed
are stored, and the same seed over the same population always gives the same sample.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..reports.statistics import month_of, start_of_day
from ..store.models import Hazard, Organisation, SpotCheck, SpotCheckItem, User
from . import audit
from .draws import new_seed, pick
from .errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from .hazards import reopen_hazard
from .roles import visible_hazards

DEFAULT_RATE = 0.1
"""A tenth of the month's closures, at least one."""


def closed_in(session: Session, month: str) -> list[int]:
    """Ids of the hazards closed in `month` (Asia/Shanghai), ascending."""
    start, end = (start_of_day(d) for d in month_of(month))
    return list(session.scalars(select(Hazard.id).where(Hazard.closed_at >= start, Hazard.closed_at < end,
                                                        Hazard.status == "closed").order_by(Hazard.id)))


def sample(population: list[int], rate: float, seed: int) -> list[int]:
    """The drawn ids: ceil(rate × population), at least one, ascending."""
    if not population:
        return []
    return pick(random.Random(seed), population, max(1, math.ceil(len(population) * rate)))


def draw(session: Session, actor: User, month: str, now: datetime, rate: float = DEFAULT_RATE,
         seed: int | None = None) -> SpotCheck:
    """Draw `month`'s sample (once per month); the seed is random unless given, and recorded."""
    if actor.role != "office":
        raise PermissionDeniedError("spot-checks are drawn by the safety committee office")
    if not 0 < rate <= 1:
        raise InvalidInputError("抽检比例须大于 0 且不超过 1")
    try:
        month_of(month)
    except ValueError:
        raise InvalidInputError(f"月份应为 YYYY-MM：{month!r}") from None
    if session.scalar(select(SpotCheck.id).where(SpotCheck.month == month)) is not None:
        raise ConflictError(f"{month} 已抽检")
    population = closed_in(session, month)
    chosen_seed = seed if seed is not None else new_seed()
    check = SpotCheck(month=month, seed=str(chosen_seed), rate=rate, population=population, drawn_at=now,
                      drawn_by_id=actor.id)
    session.add(check)
    session.flush()
    drawn = sample(population, rate, chosen_seed)
    session.add_all(SpotCheckItem(spot_check_id=check.id, hazard_id=hazard_id) for hazard_id in drawn)
    audit.record(session, actor, "spot_check_draw", "spot_check", check.id,
                 {"month": month, "seed": str(chosen_seed), "rate": rate, "population": len(population),
                  "drawn": drawn}, now)
    return check


def redraw_matches(session: Session, check: SpotCheck) -> bool:
    """Whether drawing again from the recorded population and seed gives exactly the recorded sample."""
    recorded = sorted(session.scalars(select(SpotCheckItem.hazard_id).where(SpotCheckItem.spot_check_id == check.id)))
    return sample(list(check.population), float(check.rate), int(check.seed)) == recorded


def record_result(session: Session, actor: User, item_id: int, passed: bool, note: str,
                  now: datetime) -> SpotCheckItem:
    """The re-verification of one drawn hazard, by the office or its supervising department; failed reopens it."""
    item = session.get(SpotCheckItem, item_id)
    if item is None or actor.role not in ("office", "department") or session.scalar(
            visible_hazards(select(Hazard.id), actor).where(Hazard.id == item.hazard_id)) is None:
        raise NotFoundError(f"spot-check item {item_id} not found")
    if item.result != "pending":
        raise ConflictError("该抽检项已有结论")
    if not passed and not note.strip():
        raise InvalidInputError("抽检不合格须说明问题")
    item.result, item.note, item.checked_at, item.checked_by_id = ("passed" if passed else "failed"), \
        note.strip() or None, now, actor.id
    audit.record(session, actor, "spot_check_result", "hazard", item.hazard_id,
                 {"spot_check": item.spot_check_id, "result": item.result, "note": item.note}, now)
    if not passed:
        reopen_hazard(session, actor, item.hazard, f"抽检不合格：{item.note}", now)
    return item


@dataclass(frozen=True)
class SpotCheckFigures:
    """Re-verifications recorded in a period: how many, passed, failed (reopened)."""

    checked: int
    passed: int
    failed: int


def figures(session: Session, start: datetime, end: datetime) -> SpotCheckFigures:
    counts = dict(session.execute(select(SpotCheckItem.result, func.count(SpotCheckItem.id)).where(
        SpotCheckItem.checked_at >= start, SpotCheckItem.checked_at < end).group_by(SpotCheckItem.result)).all())
    passed, failed = counts.get("passed", 0), counts.get("failed", 0)
    return SpotCheckFigures(passed + failed, passed, failed)


def spot_checks(session: Session, actor: User) -> list[tuple[SpotCheck, list[SpotCheckItem]]]:
    """Draws, newest first, each with the items `actor` may see."""
    if actor.role not in ("office", "department"):
        raise PermissionDeniedError("spot-checks are for the office and the departments")
    visible = visible_hazards(select(Hazard.id), actor).scalar_subquery()
    result = []
    for check in session.scalars(select(SpotCheck).order_by(SpotCheck.month.desc()).limit(24)):
        items = list(session.scalars(select(SpotCheckItem).where(
            SpotCheckItem.spot_check_id == check.id, SpotCheckItem.hazard_id.in_(visible)).order_by(SpotCheckItem.id)))
        result.append((check, items))
    return result


def percent_of(rate: float) -> str:
    """A rate as the page says it: 0.1 → "10", 0.125 → "12.5"."""
    return f"{float(rate) * 100:.4g}"


def rate_from_percent(text: str) -> float:
    """The rate of a percentage as typed ("10", "12.5", "10 %"); InvalidInputError unless 0 < p ≤ 100."""
    try:
        percent = float(text.strip().rstrip("%").strip() or DEFAULT_RATE * 100)
    except ValueError:
        raise InvalidInputError("抽检比例须为 0 到 100 之间的数") from None
    if not 0 < percent <= 100:
        raise InvalidInputError("抽检比例须为 0 到 100 之间的数")
    return round(percent / 100, 4)  # the column keeps four places


@dataclass(frozen=True)
class Redraw:
    """A draw redone from its recorded seed and population: what it gives and whether that is the record."""

    spot_check_id: int
    drawn: list[int]
    codes: list[str]  # of the drawn hazards the reader may see
    matches: bool


@dataclass(frozen=True)
class SpotCheckPage:
    """The page: draws with the items the reader may see, whether each redraws the same, enterprise names."""

    draws: list[tuple[SpotCheck, list[SpotCheckItem]]]
    reproducible: dict[int, bool]
    enterprises: dict[int, str]
    redraw: Redraw | None = None


def page(session: Session, actor: User, redraw_id: int | None = None) -> SpotCheckPage:
    """The spot-check page for `actor`; with `redraw_id`, that draw redone from its recorded seed (nothing stored)."""
    draws = spot_checks(session, actor)
    enterprise_ids = {item.hazard.enterprise_id for _, items in draws for item in items}
    names = dict(session.execute(select(Organisation.id, Organisation.name)
                                 .where(Organisation.id.in_(enterprise_ids))).all())
    redraw = None
    check = session.get(SpotCheck, redraw_id) if redraw_id is not None else None
    if check is not None:
        drawn = sample(list(check.population), float(check.rate), int(check.seed))
        codes = list(session.scalars(visible_hazards(select(Hazard.code), actor).where(Hazard.id.in_(drawn))
                                     .order_by(Hazard.id)))
        redraw = Redraw(check.id, drawn, codes, redraw_matches(session, check))
    return SpotCheckPage(draws, {c.id: redraw_matches(session, c) for c, _ in draws}, names, redraw)
