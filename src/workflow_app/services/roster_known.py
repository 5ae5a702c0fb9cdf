"""What the database holds that a roster names or updates, loaded in a handful of queries and put in the
roster's canonical form (see roster_check.py): a zone's thousands of enterprises are compared in memory."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import EnterpriseSector, Organisation, Sector, Supervision
from .roster_format import COLOURS, STATUSES

KIND_TITLES = {"enterprise": "企业", "town": "镇街", "department": "监管部门", "office": "安委办"}
_COLOUR_NAMES = {stored: shown for shown, stored in COLOURS.items()}
_STATUS_NAMES = {stored: shown for shown, stored in STATUSES.items()}
_ORGS = Organisation.__table__


@dataclass(frozen=True)
class Owner:
    """An organisation that holds a code."""

    id: int
    kind: str
    name: str

    @property
    def label(self) -> str:
        return f"{KIND_TITLES.get(self.kind, self.kind)}「{self.name}」"


@dataclass(frozen=True)
class Existing:
    """A stored enterprise or sector: its id and version (for the guarded update) and its record."""

    id: int
    version: int
    record: dict[str, str]


@dataclass
class Known:
    """Organisations by code, towns' and departments' names, sectors and enterprises as records."""

    organisations: dict[str, Owner]
    names: dict[str, dict[str, str]]  # town | department → {code: name}
    sectors: dict[str, dict[str, str]]
    enterprises: dict[str, Existing]  # by credit code
    uncoded: dict[str, Existing]  # enterprises without a credit code, by code (adopted by a row with that code)

    def enterprise(self, credit_code: str, code: str) -> Existing | None:
        """The stored enterprise a row with `credit_code` and `code` updates, if any."""
        return self.enterprises.get(credit_code) or self.uncoded.get(code)


def load(session: Session) -> Known:
    """Everything a roster is checked and compared against."""
    rows = session.execute(select(_ORGS)).mappings().all()
    organisations = {r["code"]: Owner(r["id"], r["kind"], r["name"]) for r in rows}
    codes = {r["id"]: r["code"] for r in rows}
    names: dict[str, dict[str, str]] = {"town": {}, "department": {}}
    for r in rows:
        if r["kind"] in names:
            names[r["kind"]][r["code"]] = r["name"]
    sectors = {s.code: {"行业领域编号": s.code, "行业领域名称": s.name, "高危行业": "是" if s.high_risk else "否",
                        "主管部门": codes.get(s.department_id, "")} for s in session.scalars(select(Sector))}
    worked_in: dict[int, list[str]] = defaultdict(list)
    for enterprise_id, sector_code in session.execute(select(EnterpriseSector.enterprise_id,
                                                             EnterpriseSector.sector_code)):
        worked_in[enterprise_id].append(sector_code)
    supervised: dict[int, list[tuple[bool, str]]] = defaultdict(list)
    for enterprise_id, department_id, is_lead in session.execute(select(
            Supervision.enterprise_id, Supervision.department_id, Supervision.is_lead)):
        supervised[enterprise_id].append((is_lead, codes.get(department_id, "")))
    enterprises: dict[str, Existing] = {}
    uncoded: dict[str, Existing] = {}
    for r in rows:
        if r["kind"] == "enterprise":
            record = enterprise_record(r, codes, worked_in[r["id"]], supervised[r["id"]])
            (enterprises if r["credit_code"] else uncoded)[r["credit_code"] or r["code"]] = Existing(
                r["id"], r["version"], record)
    return Known(organisations, names, sectors, enterprises, uncoded)


def enterprise_record(r: Any, codes: dict[int, str], sectors: list[str], supervisions: list[tuple[bool, str]],
                      ) -> dict[str, str]:
    """A stored enterprise (a row of `organisations`) as the roster's 企业 sheet writes it."""
    main = r["sector_code"] or ""
    return {
        "统一社会信用代码": r["credit_code"] or "", "企业名称": r["name"], "编号": r["code"],
        "地址": r["address"] or "",
        "镇街": codes.get(r["town_id"], ""), "行业领域": "、".join([main, *sorted(set(sectors) - {main})]).strip("、"),
        "牵头监管部门": next((code for lead, code in supervisions if lead), ""),
        "其他监管部门": "、".join(sorted(code for lead, code in supervisions if not lead)),
        "高危企业": "是" if r["high_risk"] else "否", "重大危险源": "是" if r["major_hazard_source"] else "否",
        "风险等级": _COLOUR_NAMES.get(r["risk_colour"] or "", ""), "主要负责人": r["principal_name"] or "",
        "主要负责人电话": r["principal_phone"] or "", "安全管理员": r["safety_officer_name"] or "",
        "安全管理员电话": r["safety_officer_phone"] or "", "经度": _degrees(r["longitude"]),
        "纬度": _degrees(r["latitude"]), "状态": _STATUS_NAMES.get(r["status"], r["status"]),
    }


def _degrees(value: Any) -> str:
    return "" if value is None else str(Decimal(str(value)).quantize(Decimal("0.000001")))
