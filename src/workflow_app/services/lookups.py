"""What a client needs to fill a report: the enterprises it may see, their standard items, the start form.

Visibility is the role rule of services/roles.py (an enterprise itself, a town its territory, a
department those it supervises, the office all); an enterprise outside it is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import FormSpec
from ..store.models import EnterpriseSector, Organisation, StandardItem, User
from . import standards
from .enterprise_file import get_enterprise
from .hazards import HAZARD_PROCESS
from .model_registry import latest_version, process_model
from .roles import visible_by_enterprise


@dataclass(frozen=True)
class EnterpriseEntry:
    """An enterprise as a lookup shows it: who it is, whether it still reports, its sectors."""

    id: int
    code: str
    name: str
    status: str
    sectors: list[str]


def visible_enterprises(session: Session, user: User, after_id: int | None, limit: int) -> list[EnterpriseEntry]:
    """The enterprises `user` may see, by id, those after `after_id` (a cursor), at most `limit`."""
    query = visible_by_enterprise(select(Organisation).where(Organisation.kind == "enterprise"), user,
                                  Organisation.id)
    if after_id is not None:
        query = query.where(Organisation.id > after_id)
    found = list(session.scalars(query.order_by(Organisation.id).limit(limit)))
    sectors: dict[int, list[str]] = {}
    for enterprise_id, sector in session.execute(
            select(EnterpriseSector.enterprise_id, EnterpriseSector.sector_code)
            .where(EnterpriseSector.enterprise_id.in_([e.id for e in found]))
            .order_by(EnterpriseSector.sector_code)):
        sectors.setdefault(enterprise_id, []).append(sector)
    return [EnterpriseEntry(e.id, e.code, e.name, e.status, sectors.get(e.id, [])) for e in found]


def standard_items_for(session: Session, user: User, enterprise_id: int, today: date) -> list[StandardItem]:
    """The items a hazard of a visible enterprise may be judged against today (what report_hazard accepts)."""
    enterprise = get_enterprise(session, user, enterprise_id)
    return standards.enterprise_items(session, [enterprise.id], today)


def hazard_start_form(session: Session) -> FormSpec:
    """The start form of the hazard model a report starts now (its newest deployed version)."""
    return process_model(latest_version(session, HAZARD_PROCESS)).start_form
