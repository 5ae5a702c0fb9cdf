"""The hazard ledger (台账): filtered, sorted, paged, limited to what the user may see.

The same query feeds the page and the exports, so an export never shows more than the
page would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..store.models import Hazard, HazardJudgedItem, Organisation, StandardItem, User
from .errors import InvalidInputError
from .roles import source_is, supervised_by, visible_hazards
from .vocabulary import check_filters

SORTS = {
    "newest": (Hazard.reported_at.desc(), Hazard.id.desc()),
    "oldest": (Hazard.reported_at, Hazard.id),
    "deadline": (Hazard.rectification_deadline.is_(None), Hazard.rectification_deadline, Hazard.id),
    "code": (Hazard.code,),
}
PER_PAGE = 50
UNKNOWN_SORT = "没有这种排序方式"


@dataclass(frozen=True)
class LedgerQuery:
    """The ledger's filters and order."""

    level: str | None = None
    status: str | None = None
    source: str | None = None
    enterprise_id: int | None = None
    town_id: int | None = None
    sector: str | None = None
    department_id: int | None = None
    standard_id: int | None = None  # judged against an item of this standard
    item_id: int | None = None  # judged against this item
    overdue: bool = False
    listed: bool = False  # under supervision listing (挂牌督办)
    found_from: date | None = None
    found_to: date | None = None
    sort: str = "newest"
    page: int = 1


def ledger_query(user: User, wanted: LedgerQuery, today: date) -> Select:
    """The SELECT of the hazards `user` may see that match `wanted` (without paging)."""
    if wanted.sort not in SORTS:
        raise InvalidInputError(UNKNOWN_SORT)
    check_filters(wanted.level, wanted.status, wanted.source)
    query = visible_hazards(select(Hazard), user)
    for column, value in ((Hazard.level, wanted.level), (Hazard.status, wanted.status),
                          (Hazard.enterprise_id, wanted.enterprise_id)):
        if value is not None:
            query = query.where(column == value)
    if wanted.source is not None:
        query = query.where(source_is(user, wanted.source))
    query = _where_enterprises(query, wanted)
    if wanted.item_id is not None:
        query = query.where(Hazard.id.in_(select(HazardJudgedItem.hazard_id)
                                          .where(HazardJudgedItem.item_id == wanted.item_id)))
    if wanted.standard_id is not None:
        query = query.where(Hazard.id.in_(select(HazardJudgedItem.hazard_id).join(StandardItem)
                                          .where(StandardItem.standard_id == wanted.standard_id)))
    return _where_state(query, wanted, today).order_by(*SORTS[wanted.sort])


def _where_state(query: Select, wanted: LedgerQuery, today: date) -> Select:
    """Limit to overdue or listed (挂牌督办) hazards and to those found in a period, as asked."""
    if wanted.overdue:
        query = query.where((Hazard.rectification_deadline < today) | Hazard.overdue_since.is_not(None),
                            Hazard.status.not_in(("closed", "rejected")))
    if wanted.listed:
        query = query.where(Hazard.supervision_listed.is_(True))
    if wanted.found_from:
        query = query.where(Hazard.found_on >= wanted.found_from)
    if wanted.found_to:
        query = query.where(Hazard.found_on <= wanted.found_to)
    return query


def _where_enterprises(query: Select, wanted: LedgerQuery) -> Select:
    """Limit to the enterprises of a town, a (main) sector or a department (those it supervises), as asked."""
    enterprises = select(Organisation.id).where(Organisation.kind == "enterprise")
    if wanted.town_id is not None:
        query = query.where(Hazard.enterprise_id.in_(enterprises.where(Organisation.town_id == wanted.town_id)))
    if wanted.sector:
        query = query.where(Hazard.enterprise_id.in_(enterprises.where(Organisation.sector_code == wanted.sector)))
    if wanted.department_id is not None:
        query = query.where(Hazard.enterprise_id.in_(supervised_by(wanted.department_id)))
    return query


@dataclass
class LedgerPage:
    """One page of the ledger and the total that matches."""

    query: LedgerQuery
    hazards: list[Hazard]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def ledger_page(session: Session, user: User, wanted: LedgerQuery, today: date) -> LedgerPage:
    query = ledger_query(user, wanted, today)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    hazards = list(session.scalars(query.offset((max(wanted.page, 1) - 1) * PER_PAGE).limit(PER_PAGE)))
    return LedgerPage(wanted, hazards, total)


def ledger_records(session: Session, user: User, wanted: LedgerQuery, today: date,
                   columns: tuple[ColumnElement[Any], ...], *where: ColumnElement[bool]) -> Iterator[Row[Any]]:
    """Every matching hazard (and `where` too) as a plain row of `columns`, streamed in batches: for exports of
    tens of thousands of hazards, where an ORM object each (and its enterprise, joined) cost as much as the file."""
    query = ledger_query(user, wanted, today).where(*where).with_only_columns(*columns, maintain_column_froms=True)
    yield from session.execute(query.execution_options(yield_per=2000))


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in Asia/Shanghai."""
    return datetime.combine(day, time(0, 0), SHANGHAI)
