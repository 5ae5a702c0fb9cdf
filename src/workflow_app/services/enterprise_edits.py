"""The enterprise file (一企一档), edits: its contacts, and the rest of its profile.

Contacts (principal and safety officer, names and phones) are edited by the enterprise's own accounts
(every account of an enterprise is its principal or one of its safety managers: there is no other kind
to leave out) and by the office or the enterprise's lead department. Everything else (name, credit code,
address, town, sectors, supervising departments and lead, flags, risk colour, coordinates, status) by
the office or the lead department only. A town only reads.

Each edit is one transaction: the row is locked, the version the form was read at must still be the
stored one (a concurrent edit is refused, never lost), every field is checked (all problems named at
once, nothing stored on any), and the audit keeps before and after of the fields that changed.
A new risk colour adds a line to the colour history, with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..store.models import EnterpriseSector, Organisation, RiskColourChange, Sector, Supervision, User
from . import audit
from .credit_code import normalised, problem
from .enterprise_file import RISK_COLOURS, STATUSES, Choices, choices, get_enterprise
from .errors import ConflictError, FieldsInvalid, PermissionDeniedError
from .people import PHONE
from .roles import visible_by_enterprise

CREDIT_CODE_TAKEN = "该统一社会信用代码已被其他单位使用"
CONTACTS_REFUSED = "只有本企业账号、安委办或牵头监管部门可以修改企业联系人"
PROFILE_REFUSED = "只有安委办或牵头监管部门可以修改企业档案"
CONTACT_PROBLEMS = {
    "principal_name": "主要负责人姓名不超过 50 字", "principal_phone": "主要负责人电话号码格式不正确",
    "safety_officer_name": "安全管理人员姓名不超过 50 字", "safety_officer_phone": "安全管理人员电话号码格式不正确",
}
"""Each contact field and what is said when it is wrong."""
STALE = "企业档案已被他人修改，本次修改未保存：请查看最新内容后重新修改"


class EnterpriseInvalid(FieldsInvalid):
    """Fields of an enterprise edit that are wrong."""


@dataclass(frozen=True)
class Contacts:
    """The contacts as typed."""

    principal_name: str = ""
    principal_phone: str = ""
    safety_officer_name: str = ""
    safety_officer_phone: str = ""


@dataclass(frozen=True)
class Profile:
    """The rest of the profile as typed (ids and codes as text from the form)."""

    name: str = ""
    credit_code: str = ""
    address: str = ""
    town_id: str = ""
    sector_codes: tuple[str, ...] = ()
    main_sector: str = ""
    department_ids: tuple[str, ...] = ()
    lead_department_id: str = ""
    high_risk: bool = False
    major_hazard_source: bool = False
    risk_colour: str = ""
    colour_reason: str = ""
    latitude: str = ""
    longitude: str = ""
    status: str = "active"
    merged_into: str = ""  # the code or credit code of the enterprise it merged into


def may_edit_profile(user: User, lead_department_id: int | None) -> bool:
    """The office, or a user of the enterprise's lead department."""
    return user.active and (user.role == "office"
                            or (user.role == "department" and user.organisation_id == lead_department_id))


def may_edit_contacts(user: User, enterprise_id: int, lead_department_id: int | None) -> bool:
    """Those who edit the profile, and the enterprise's own accounts."""
    own = user.role == "enterprise" and user.organisation_id == enterprise_id
    return may_edit_profile(user, lead_department_id) or (user.active and own)


def lead_department_id(session: Session, enterprise_id: int) -> int | None:
    return session.scalar(select(Supervision.department_id).where(Supervision.enterprise_id == enterprise_id,
                                                                  Supervision.is_lead.is_(True)))


def contacts_of(enterprise: Organisation) -> Contacts:
    """The stored contacts, to fill the form."""
    return Contacts(**{f.name: getattr(enterprise, f.name) or "" for f in fields(Contacts)})


def profile_of(session: Session, enterprise: Organisation) -> Profile:
    """The stored profile, to fill the form."""
    sectors = tuple(session.scalars(select(EnterpriseSector.sector_code)
                                    .where(EnterpriseSector.enterprise_id == enterprise.id)))
    supervisions = list(session.execute(select(Supervision.department_id, Supervision.is_lead)
                                        .where(Supervision.enterprise_id == enterprise.id)))
    merged = session.get(Organisation, enterprise.merged_into_id) if enterprise.merged_into_id else None
    return Profile(
        name=enterprise.name, credit_code=enterprise.credit_code or "", address=enterprise.address or "",
        town_id=str(enterprise.town_id or ""), sector_codes=sectors, main_sector=enterprise.sector_code or "",
        department_ids=tuple(str(d) for d, _ in supervisions),
        lead_department_id=next((str(d) for d, lead in supervisions if lead), ""),
        high_risk=enterprise.high_risk, major_hazard_source=enterprise.major_hazard_source,
        risk_colour=enterprise.risk_colour or "", latitude=_coordinate(enterprise.latitude) or "",
        longitude=_coordinate(enterprise.longitude) or "", status=enterprise.status,
        merged_into=(merged.credit_code or merged.code) if merged else "")


@dataclass(frozen=True)
class EditForm:
    """What the edit page shows: the contacts, and the profile to those who may edit it (else None)."""

    enterprise: Organisation
    contacts: Contacts
    profile: Profile | None
    choices: Choices


def edit_form(session: Session, user: User, enterprise_id: int) -> EditForm:
    """The stored values to edit (NotFoundError if `user` may not see it, PermissionDeniedError if not edit it)."""
    enterprise = get_enterprise(session, user, enterprise_id)
    lead = lead_department_id(session, enterprise.id)
    if not may_edit_contacts(user, enterprise.id, lead):
        raise PermissionDeniedError(CONTACTS_REFUSED)
    profile = profile_of(session, enterprise) if may_edit_profile(user, lead) else None
    return EditForm(enterprise, contacts_of(enterprise), profile, choices(session))


def edit_contacts(session: Session, actor: User, enterprise_id: int, version: int, typed: Contacts,
                  now: datetime) -> bool:
    """Store the contacts; False when nothing changed (nothing written)."""
    enterprise, lead = _locked(session, actor, enterprise_id, version)
    if not may_edit_contacts(actor, enterprise.id, lead):
        raise PermissionDeniedError(CONTACTS_REFUSED)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field, message in CONTACT_PROBLEMS.items():
        text = getattr(typed, field).strip()
        wrong = not PHONE.fullmatch(text) if field.endswith("_phone") else len(text) > 50
        if text and wrong:
            errors[field] = message
        values[field] = text or None
    if errors:
        raise EnterpriseInvalid(errors)
    return _store(session, actor, enterprise, values, {}, "edit_enterprise_contacts", now)


def edit_profile(session: Session, actor: User, enterprise_id: int, version: int, typed: Profile,
                 now: datetime) -> bool:
    """Store the profile; False when nothing changed (nothing written)."""
    enterprise, lead = _locked(session, actor, enterprise_id, version)
    if not may_edit_profile(actor, lead):
        raise PermissionDeniedError(PROFILE_REFUSED)
    errors: dict[str, str] = {}
    values = _checked_identity(session, enterprise, typed, errors)
    values.update(_checked_sectors(session, typed, errors))
    values.update(_checked_grading(enterprise, typed, errors))
    values.update(_checked_place(session, typed, errors))
    values.update(_checked_status(session, actor, enterprise, typed, errors))
    links = _checked_supervisors(session, typed, errors)
    links["sectors"] = sorted(set(typed.sector_codes))
    if errors:
        raise EnterpriseInvalid(errors)
    return _store(session, actor, enterprise, values, links, "edit_enterprise_profile", now,
                  typed.colour_reason.strip() or None)


def _locked(session: Session, actor: User, enterprise_id: int, version: int) -> tuple[Organisation, int | None]:
    """The enterprise the actor may see, its row locked, still at `version`; and its lead department."""
    get_enterprise(session, actor, enterprise_id)
    enterprise = session.get(Organisation, enterprise_id, with_for_update=True, populate_existing=True)
    assert enterprise is not None
    if enterprise.version != version:
        raise ConflictError(STALE)
    return enterprise, lead_department_id(session, enterprise.id)


def _checked_identity(session: Session, enterprise: Organisation, typed: Profile,
                      errors: dict[str, str]) -> dict[str, Any]:
    name, address = typed.name.strip(), typed.address.strip()
    code = normalised(typed.credit_code)
    if not name or len(name) > 200:
        errors["name"] = "请填写企业名称（不超过 200 字）"
    if len(address) > 300:
        errors["address"] = "地址不超过 300 字"
    wrong = problem(code) if code else None
    if wrong:
        errors["credit_code"] = wrong
    elif code and session.scalar(select(Organisation.id).where(Organisation.credit_code == code,
                                                               Organisation.id != enterprise.id)):
        errors["credit_code"] = CREDIT_CODE_TAKEN
    return {"name": name, "address": address or None, "credit_code": code or None}


def _checked_sectors(session: Session, typed: Profile, errors: dict[str, str]) -> dict[str, Any]:
    chosen = set(typed.sector_codes)
    known = set(session.scalars(select(Sector.code).where(Sector.code.in_(chosen)))) if chosen else set()
    main = typed.main_sector or (next(iter(chosen)) if len(chosen) == 1 else "")
    if not chosen:
        errors["sector_codes"] = "请至少选择一个行业"
    elif known != chosen:
        errors["sector_codes"] = "所选行业不存在"
    elif main not in chosen:
        errors["main_sector"] = "主行业须是所选行业之一"
    return {"sector_code": main}


def _checked_supervisors(session: Session, typed: Profile, errors: dict[str, str]) -> dict[str, Any]:
    chosen = {i for i in map(_row_id, typed.department_ids) if i is not None}
    known = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(chosen),
                                                              Organisation.kind == "department"))) if chosen else set()
    lead = _row_id(typed.lead_department_id)
    if not chosen:
        errors["department_ids"] = "请至少选择一个监管部门"
    elif known != chosen or len(chosen) != len(typed.department_ids):
        errors["department_ids"] = "所选监管部门不存在"
    elif lead not in chosen:
        errors["lead_department_id"] = "牵头监管部门须是所选监管部门之一"
    return {"supervisors": sorted(chosen), "lead_department_id": lead}


def _checked_grading(enterprise: Organisation, typed: Profile, errors: dict[str, str]) -> dict[str, Any]:
    colour = typed.risk_colour or None
    if colour is not None and colour not in RISK_COLOURS:
        errors["risk_colour"] = "风险等级应为红、橙、黄、蓝之一"
    elif colour is None and enterprise.risk_colour is not None:
        errors["risk_colour"] = "已评定的风险等级不能清空，只能改为其他等级"
    elif colour != enterprise.risk_colour and not typed.colour_reason.strip():
        errors["colour_reason"] = "调整风险等级须填写理由"
    if len(typed.colour_reason.strip()) > 200:
        errors["colour_reason"] = "理由不超过 200 字"
    return {"risk_colour": colour, "high_risk": typed.high_risk, "major_hazard_source": typed.major_hazard_source}


def _checked_place(session: Session, typed: Profile, errors: dict[str, str]) -> dict[str, Any]:
    """The town and the coordinates (both or neither; WGS-84 degrees, six decimals kept)."""
    town = _row_id(typed.town_id)
    if town is None or session.scalar(select(Organisation.kind).where(Organisation.id == town)) != "town":
        errors["town_id"] = "请选择所属镇街"
    values: dict[str, Any] = {"town_id": town}
    for name, label, limit in (("latitude", "纬度", 90), ("longitude", "经度", 180)):
        text = getattr(typed, name).strip()
        try:
            number = Decimal(text).quantize(Decimal("0.000001")) if text else None
        except InvalidOperation:
            number = Decimal("NaN")
        if number is not None and not (number.is_finite() and -limit <= number <= limit):
            errors[name] = f"{label}应为 -{limit} 到 {limit} 之间的数"
        values[name] = _coordinate(number) if number is not None and number.is_finite() else None
    if (values["latitude"] is None) != (values["longitude"] is None) and not {"latitude", "longitude"} & set(errors):
        errors["longitude" if values["longitude"] is None else "latitude"] = "经纬度须同时填写或同时留空"
    return values


def _checked_status(session: Session, actor: User, enterprise: Organisation, typed: Profile,
                    errors: dict[str, str]) -> dict[str, Any]:
    if typed.status not in STATUSES:
        errors["status"] = "状态应为在业、关闭或已合并"
        return {}
    if typed.status != "merged":
        return {"status": typed.status, "merged_into_id": None}
    wanted = typed.merged_into.strip()
    query = visible_by_enterprise(select(Organisation.id), actor, Organisation.id).where(
        Organisation.kind == "enterprise", Organisation.id != enterprise.id,
        (Organisation.code == wanted) | (Organisation.credit_code == normalised(wanted)))
    target = session.scalar(query) if wanted else None
    if target is None:
        errors["merged_into"] = "请填写并入企业的统一社会信用代码或编码（须为另一家企业）"
    return {"status": "merged", "merged_into_id": target}


def _row_id(text: str) -> int | None:
    """An id typed into a form, if it can be one (a database integer)."""
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _coordinate(value: Any) -> str | None:
    return None if value is None else f"{Decimal(value):.6f}"


def _snapshot(session: Session, enterprise: Organisation, names: set[str]) -> dict[str, Any]:
    """The current values of `names`: columns, and the links (sectors, supervisors, lead)."""
    shown: dict[str, Any] = {}
    for name in names:
        if name in ("latitude", "longitude"):
            shown[name] = _coordinate(getattr(enterprise, name))
        elif name == "sectors":
            shown[name] = sorted(session.scalars(select(EnterpriseSector.sector_code)
                                                 .where(EnterpriseSector.enterprise_id == enterprise.id)))
        elif name == "supervisors":
            shown[name] = sorted(session.scalars(select(Supervision.department_id)
                                                 .where(Supervision.enterprise_id == enterprise.id)))
        elif name == "lead_department_id":
            shown[name] = lead_department_id(session, enterprise.id)
        else:
            shown[name] = getattr(enterprise, name)
    return shown


def _store(session: Session, actor: User, enterprise: Organisation, values: dict[str, Any], links: dict[str, Any],
           action: str, now: datetime, colour_reason: str | None = None) -> bool:
    """Write what changed, raise the version, keep the colour history and the audit; False if nothing did."""
    wanted = {**values, **links}
    before = _snapshot(session, enterprise, set(wanted))
    changed = sorted(name for name in wanted if before[name] != wanted[name])
    if not changed:
        return False
    for name in changed:
        if name in values:
            setattr(enterprise, name, float(values[name]) if name in ("latitude", "longitude") and values[name]
                    else values[name])
    enterprise.version += 1
    try:
        session.flush()
    except IntegrityError:  # a credit code taken by a concurrent transaction since it was checked
        raise EnterpriseInvalid({"credit_code": CREDIT_CODE_TAKEN}) from None
    if {"sectors", "supervisors", "lead_department_id"} & set(changed):
        _replace_links(session, enterprise.id, links)
    if "risk_colour" in changed:
        session.add(RiskColourChange(enterprise_id=enterprise.id, colour=values["risk_colour"], set_at=now,
                                     set_by_id=actor.id, set_by_name=actor.display_name, reason=colour_reason))
    detail: dict[str, Any] = {"before": {n: before[n] for n in changed}, "after": {n: wanted[n] for n in changed}}
    if "risk_colour" in changed:
        detail["reason"] = colour_reason
    audit.record(session, actor, action, "organisation", enterprise.id, detail, now)
    return True


def _replace_links(session: Session, enterprise_id: int, links: dict[str, Any]) -> None:
    """The enterprise's sectors and supervisors, replaced (deleted first, so the one-lead index holds)."""
    session.execute(delete(EnterpriseSector).where(EnterpriseSector.enterprise_id == enterprise_id))
    session.execute(delete(Supervision).where(Supervision.enterprise_id == enterprise_id))
    session.execute(insert(EnterpriseSector), [{"enterprise_id": enterprise_id, "sector_code": code}
                                               for code in links["sectors"]])
    session.execute(insert(Supervision), [{"enterprise_id": enterprise_id, "department_id": department,
                                           "is_lead": department == links["lead_department_id"]}
                                          for department in links["supervisors"]])
