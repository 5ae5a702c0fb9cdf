"""Exports by name, for the CLI and the web: the ledger (XLSX, CSV) and the plan's tables (XLSX).

Every export goes through the ledger's role limits or the campaign roles: an enterprise
exports only its own hazards, and campaign tables are for the office, towns and departments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import IO

from sqlalchemy.orm import Session

from ..services.errors import InvalidInputError, PermissionDeniedError
from ..services.ledger import LedgerQuery, ledger_records
from ..store.models import User
from . import tables
from .csv_file import write_csv
from .xlsx import write_table

EXPORTS = ("ledger.xlsx", "ledger.csv", "table1", "table2", "table3", "table4")
CAMPAIGN_ROLES = ("office", "town", "department")


@dataclass(frozen=True)
class ExportRequest:
    """Which export, for which campaign and week, over which ledger filters."""

    name: str
    campaign: str | None = None
    week: str | None = None
    ledger: LedgerQuery = field(default_factory=LedgerQuery)


def export(session: Session, user: User, request: ExportRequest, out: IO[bytes], today: date) -> int:
    """Write the export to `out`; return how many data rows it holds."""
    names = tables.Names(session, user)
    if request.name in ("ledger.xlsx", "ledger.csv"):
        rows = (tables.ledger_row(h, names)
                for h in ledger_records(session, user, request.ledger, today, tables.LEDGER_FIELDS))
        if request.name == "ledger.csv":
            return write_csv(out, [h for h, _ in tables.LEDGER_COLUMNS], rows)
        return write_table(out, "隐患排查治理台账", tables.LEDGER_COLUMNS, rows, "台账")
    if request.name == "table3":
        return _table3(session, user, request, out, today, names)
    if request.name not in EXPORTS:
        raise InvalidInputError(f"unknown export {request.name!r}; one of {', '.join(EXPORTS)}")
    if user.role not in CAMPAIGN_ROLES:
        raise PermissionDeniedError("专项行动报表仅供安委办、镇街和监管部门查看")
    campaign = tables.campaign_by_code(session, request.campaign)
    if request.name == "table4":
        title = tables.TITLES["table4"].format(zone=tables.zone_name(campaign))
        return write_table(out, title, tables.CONTACT_COLUMNS, tables.contact_rows(session, campaign, names), "附表4")
    if not request.week:
        raise InvalidInputError("the weekly tables need --week YYYY-Www")
    period = tables.period_of_week(campaign, request.week)
    kind = "town" if request.name == "table1" else "department"
    title = tables.TITLES[request.name].format(zone=tables.zone_name(campaign), period=f"（{request.week}，{period}）")
    return write_table(out, title, tables.WEEKLY_COLUMNS, tables.weekly_rows(session, campaign, kind, period, names),
                       "附表1" if kind == "town" else "附表2")


def _table3(session: Session, user: User, request: ExportRequest, out: IO[bytes], today: date,
            names: tables.Names) -> int:
    """附表3 of the campaign (the newest unless named): its confirmed major hazards the user may see, oldest first,
    within the ledger's filters."""
    campaign = tables.campaign_by_code(session, request.campaign)
    hazards = ledger_records(session, user, replace(request.ledger, sort="oldest"), today, tables.TABLE3_FIELDS,
                             *tables.table3_conditions(campaign))
    rows = tables.table3_rows(hazards, names, tables.lead_departments(session), tables.listings(session, campaign))
    return write_table(out, tables.TITLES["table3"].format(zone=tables.zone_name(campaign)), tables.TABLE3_COLUMNS,
                       rows, "附表3")
