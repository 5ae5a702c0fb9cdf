"""Writing a checked roster's changes: Core statements in batches (executemany), one pass per kind.

Towns and departments first, then sectors (they name a department), then enterprises (they
name all three). An updated enterprise is written with `WHERE version = <the compared one>`:
if its profile was edited meanwhile the count of rows written falls short and the whole
import is refused. A new or re-sectored enterprise gets its sectors and supervisions
rewritten; a colour set or changed adds a row to its colour history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..store.models import EnterpriseSector, Organisation, RiskColourChange, Sector, Supervision, User
from ..store.name_search import initials
from .errors import ConflictError
from .roster_check import Checked
from .roster_format import COLOURS, STATUSES
from .roster_known import Known

if TYPE_CHECKING:
    from .roster import Change

BATCH = 1000
ORGS = cast(Table, Organisation.__table__)
SECTORS = cast(Table, Sector.__table__)
COLOUR_CHANGES = cast(Table, RiskColourChange.__table__)
LINKS = (cast(Table, EnterpriseSector.__table__), cast(Table, Supervision.__table__))
LINK_COLUMNS = ("行业领域", "牵头监管部门", "其他监管部门")
CONCURRENT = "导入期间有单位被他人修改，未导入任何内容；请重新预览后再确认"
AuditEntries = list[tuple[str, str, str | int, dict[str, Any]]]


def write(session: Session, actor: User | None, changes: list[Change], checked: Checked, known: Known,
          now: datetime, progress: Callable[[str, int, int], None] | None = None) -> AuditEntries:
    """Write `changes` (their full records are in `checked`); the audit entries to append, in order."""
    entries: AuditEntries = []
    try:
        for kind in ("town", "department"):
            entries += _units(session, kind, [c for c in changes if c.kind == kind], checked.records[kind])
        ids = _ids(session)
        entries += _sectors(session, [c for c in changes if c.kind == "sector"], checked.records["sector"], ids)
        mine = [c for c in changes if c.kind == "enterprise"]
        entries += _enterprises(session, actor, mine, checked.records["enterprise"], known, ids, now, progress)
    except IntegrityError:
        raise ConflictError(CONCURRENT) from None
    return entries


def _ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(ORGS.c.code, ORGS.c.id)).all())


def _detail(change: Change) -> dict[str, Any]:
    if change.new:
        return {"before": None, "after": {column: after for column, _, after in change.fields}}
    return {"before": {c: before for c, before, _ in change.fields},
            "after": {c: after for c, _, after in change.fields}}


def _units(session: Session, kind: str, changes: list[Change], records: dict[str, dict[str, str]]) -> AuditEntries:
    """New and renamed towns or departments."""
    name_of = {code: list(records[code].values())[1] for code in records}
    connection = session.connection()
    new = [{"code": c.key, "name": name_of[c.key], "kind": kind, "name_initials": initials(name_of[c.key])}
           for c in changes if c.new]
    if new:
        connection.execute(insert(ORGS), new)
    renamed = [{"b_code": c.key, "name": name_of[c.key], "name_initials": initials(name_of[c.key])}
               for c in changes if not c.new]
    if renamed:
        connection.execute(update(ORGS).where(ORGS.c.code == bindparam("b_code")), renamed)
    ids = _ids(session) if changes else {}
    return [("add_organisation" if c.new else "update_organisation", "organisation", ids[c.key], _detail(c))
            for c in changes]


def _sectors(session: Session, changes: list[Change], records: dict[str, dict[str, str]],
             ids: dict[str, int]) -> AuditEntries:
    def values(code: str) -> dict[str, Any]:
        record = records[code]
        return {"name": record["行业领域名称"], "high_risk": record["高危行业"] == "是",
                "department_id": ids[record["主管部门"]]}

    connection = session.connection()
    new = [{"code": c.key, **values(c.key)} for c in changes if c.new]
    if new:
        connection.execute(insert(SECTORS), new)
    changed = [{"b_code": c.key, **values(c.key)} for c in changes if not c.new]
    if changed:
        connection.execute(update(SECTORS).where(SECTORS.c.code == bindparam("b_code")), changed)
    return [("add_sector" if c.new else "update_sector", "sector", c.key, _detail(c)) for c in changes]


def _organisation(record: dict[str, str], ids: dict[str, int]) -> dict[str, Any]:
    """An enterprise record as the columns of its `organisations` row."""
    def degrees(text: str) -> float | None:
        return float(text) if text else None

    return {"code": record["编号"], "name": record["企业名称"], "name_initials": initials(record["企业名称"]),
            "kind": "enterprise", "credit_code": record["统一社会信用代码"], "address": record["地址"] or None,
            "town_id": ids[record["镇街"]], "sector_code": record["行业领域"].split("、")[0],
            "high_risk": record["高危企业"] == "是", "major_hazard_source": record["重大危险源"] == "是",
            "risk_colour": COLOURS.get(record["风险等级"]), "principal_name": record["主要负责人"] or None,
            "principal_phone": record["主要负责人电话"] or None, "safety_officer_name": record["安全管理员"] or None,
            "safety_officer_phone": record["安全管理员电话"] or None, "longitude": degrees(record["经度"]),
            "latitude": degrees(record["纬度"]), "status": STATUSES[record["状态"]]}


def _enterprises(session: Session, actor: User | None, changes: list[Change], records: dict[str, dict[str, str]],
                 known: Known, ids: dict[str, int], now: datetime,
                 progress: Callable[[str, int, int], None] | None) -> AuditEntries:
    connection = session.connection()
    new = [c for c in changes if c.new]
    for start in range(0, len(new), BATCH):
        connection.execute(insert(ORGS), [_organisation(records[c.key], ids) for c in new[start:start + BATCH]])
        if progress:
            progress("新增企业", min(start + BATCH, len(new)), len(new))
    by_credit = dict(connection.execute(select(ORGS.c.credit_code, ORGS.c.id).where(
        ORGS.c.kind == "enterprise", ORGS.c.credit_code.is_not(None))).all()) if new else {}
    enterprise_ids = {c.key: by_credit[c.key] if c.new else _existing(known, c, records).id for c in changes}
    _update(session, [c for c in changes if not c.new], records, known, ids, progress)
    relinked = [c for c in changes if c.new or any(column in LINK_COLUMNS for column, _, _ in c.fields)]
    _links(session, [(enterprise_ids[c.key], records[c.key]) for c in relinked], ids)
    coloured = [c for c in changes if any(column == "风险等级" and after for column, _, after in c.fields)]
    if coloured:
        connection.execute(insert(COLOUR_CHANGES), [
            {"enterprise_id": enterprise_ids[c.key], "colour": COLOURS[records[c.key]["风险等级"]], "set_at": now,
             "set_by_id": actor.id if actor else None, "set_by_name": actor.display_name if actor else "系统",
             "reason": "组织名册导入"} for c in coloured])
    return [("add_organisation" if c.new else "update_organisation", "organisation", enterprise_ids[c.key],
             _detail(c)) for c in changes]


def _existing(known: Known, change: Change, records: dict[str, dict[str, str]]) -> Any:
    existing = known.enterprise(change.key, records[change.key]["编号"])
    assert existing is not None
    return existing


def _update(session: Session, changes: Sequence[Change], records: dict[str, dict[str, str]], known: Known,
            ids: dict[str, int], progress: Callable[[str, int, int], None] | None) -> None:
    """Changed enterprises, each only if still at the version compared; ConflictError if one was not."""
    statement = update(ORGS).where(ORGS.c.id == bindparam("b_id"), ORGS.c.version == bindparam("b_version"))
    for start in range(0, len(changes), BATCH):
        rows = []
        for change in changes[start:start + BATCH]:
            existing = _existing(known, change, records)
            rows.append({"b_id": existing.id, "b_version": existing.version, "version": existing.version + 1,
                         **_organisation(records[change.key], ids)})
        written = session.connection().execute(statement, rows).rowcount
        if written != len(rows):
            raise ConflictError(CONCURRENT)
        if progress:
            progress("更新企业", start + len(rows), len(changes))


def _links(session: Session, enterprises: list[tuple[int, dict[str, str]]], ids: dict[str, int]) -> None:
    """Rewrite the sectors and supervising departments of `enterprises` ((id, record) each)."""
    if not enterprises:
        return
    connection = session.connection()
    gone = [{"b_id": enterprise_id} for enterprise_id, _ in enterprises]
    for table in LINKS:
        connection.execute(delete(table).where(table.c.enterprise_id == bindparam("b_id")), gone)
    sectors, supervisions = [], []
    for enterprise_id, record in enterprises:
        sectors += [{"enterprise_id": enterprise_id, "sector_code": code} for code in record["行业领域"].split("、")]
        supervisions.append({"enterprise_id": enterprise_id, "department_id": ids[record["牵头监管部门"]],
                             "is_lead": True})
        supervisions += [{"enterprise_id": enterprise_id, "department_id": ids[code], "is_lead": False}
                         for code in record["其他监管部门"].split("、") if code]
    for start in range(0, max(len(sectors), len(supervisions)), BATCH * 3):
        if sectors[start:start + BATCH * 3]:
            connection.execute(insert(LINKS[0]), sectors[start:start + BATCH * 3])
        if supervisions[start:start + BATCH * 3]:
            connection.execute(insert(LINKS[1]), supervisions[start:start + BATCH * 3])
