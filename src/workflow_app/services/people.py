"""People: the accounts of each organisation, who may manage them, and the first office account.

The office manages every account; a department or a town the accounts of its own organisation;
an enterprise's principal (主要负责人) the accounts of its own enterprise. Nobody else manages
accounts. An account outside the actor's reach is not found (never told apart from a missing one).
`actor` None is the command line (the system). Every change is audited with before and after.

A new account and a reset password get a one-time password, returned once and never stored in
the clear; the holder must change it at the next sign-in. Disabling an account ends its sessions
and puts the tasks it claimed back in its organisation's queue, in the same transaction.

An account may be linked to the subject of the single sign-on provider (one issuer per deployment):
only by a manager of the account, never by signing in; one subject names one account at most.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..store.models import Organisation, User
from . import audit, inbox
from .accounts import end_sessions
from .errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from .passwords import hash_password, one_time_password

ROLES = ("enterprise", "department", "town", "office")
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,79}")
PHONE = re.compile(r"\+?[0-9][0-9 -]{4,38}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
OIDC_SUBJECT = re.compile(r"[\x21-\x7e]{1,255}")
"""An OpenID Connect subject: at most 255 ASCII characters (OpenID Connect Core 1.0, 2), printable, no space."""
FIRST_OFFICE = ("OFFICE", "安委会办公室")
"""Code and name of the office organisation `create_first_admin` makes when there is none."""


@dataclass(frozen=True)
class NewAccount:
    """What an administrator types for a new account."""

    username: str
    organisation_id: int
    role: str  # "" for the organisation's kind
    display_name: str
    phone: str = ""
    email: str = ""


def may_manage_accounts(actor: User | None) -> bool:
    """Whether `actor` manages any accounts at all (the office, a department, a town, a principal)."""
    if actor is None:
        return True
    return actor.role in ("office", "department", "town") or (actor.role == "enterprise" and actor.is_principal)


def may_manage(actor: User | None, organisation_id: int) -> bool:
    """Whether `actor` manages the accounts of the organisation `organisation_id`."""
    if actor is None or actor.role == "office":
        return True
    return may_manage_accounts(actor) and actor.organisation_id == organisation_id


def manageable_organisations(session: Session, actor: User) -> list[Organisation]:
    """The organisations whose accounts `actor` manages: all for the office, else their own."""
    _require_manager(actor)
    query = select(Organisation).order_by(Organisation.kind, Organisation.code)
    if actor.role != "office":
        query = query.where(Organisation.id == actor.organisation_id)
    return list(session.scalars(query))


def list_accounts(session: Session, actor: User, organisation_id: int | None = None, text: str = "") -> list[User]:
    """Accounts `actor` manages, by organisation then username; `text` matches username or name."""
    _require_manager(actor)
    query = select(User).join(Organisation, Organisation.id == User.organisation_id)
    if actor.role != "office":
        query = query.where(User.organisation_id == actor.organisation_id)
    if organisation_id is not None:
        query = query.where(User.organisation_id == organisation_id)
    if text.strip():
        pattern = f"%{text.strip().lower()}%"
        query = query.where(or_(func.lower(User.username).like(pattern), func.lower(User.display_name).like(pattern)))
    return list(session.scalars(query.order_by(Organisation.kind, Organisation.code, User.username)))


def add_account(session: Session, actor: User | None, new: NewAccount, now: datetime) -> tuple[User, str]:
    """Create the account with a one-time password; returns it and the password (shown once)."""
    organisation = session.get(Organisation, new.organisation_id)
    if organisation is None or not may_manage(actor, organisation.id):
        _require_manager(actor)
        raise NotFoundError(f"no organisation {new.organisation_id}")
    fields = _checked(session, new, organisation)
    plain = one_time_password()
    user = User(**fields, organisation_id=organisation.id, password_hash=hash_password(plain), active=True,
                must_change_password=True)
    session.add(user)
    session.flush()
    audit.record(session, actor, "add_account", "user", user.id, {"before": None, "after": _snapshot(user)}, now)
    return user, plain


def set_active(session: Session, actor: User | None, user_id: int, active: bool, now: datetime) -> User:
    """Enable or disable an account; disabling ends its sessions and returns its claimed tasks."""
    user = _managed(session, actor, user_id)
    if actor is not None and user.id == actor.id:
        raise InvalidInputError("不能停用或启用自己的账号")
    before = _snapshot(user)
    if user.active == active:
        return user
    user.active = active
    detail: dict[str, Any] = {"before": before, "after": _snapshot(user)}
    if not active:
        end_sessions(session, user.id)
        returned = inbox.return_claims(session, actor, user, now)
        detail["returned_tasks"] = [task.task_id for task in returned]
    audit.record(session, actor, "enable_account" if active else "disable_account", "user", user.id, detail, now)
    return user


def reset_password(session: Session, actor: User | None, user_id: int, now: datetime) -> tuple[User, str]:
    """Give the account a new one-time password (returned once), ending its sessions."""
    user = _managed(session, actor, user_id)
    if actor is not None and user.id == actor.id:
        raise InvalidInputError("请在“修改密码”页修改自己的密码")
    before = _snapshot(user)
    plain = one_time_password()
    user.password_hash = hash_password(plain)
    user.must_change_password = True
    end_sessions(session, user.id)
    audit.record(session, actor, "reset_password", "user", user.id, {"before": before, "after": _snapshot(user)}, now)
    return user, plain


def set_oidc_subject(session: Session, actor: User | None, user_id: int, subject: str | None,
                     now: datetime) -> User:
    """Link the account to the single sign-on subject `subject`, or unlink it (None or blank).

    Refused when the subject is not one or is linked to another account (also when another
    transaction links it meanwhile: the unique column decides). Replacing or removing a link ends
    the account's sessions: whoever signed in through the old link is signed out.
    """
    user = _managed(session, actor, user_id)
    subject = (subject or "").strip() or None
    if subject is not None and not OIDC_SUBJECT.fullmatch(subject):
        raise InvalidInputError("统一身份账号标识应为 1–255 位可见 ASCII 字符（不含空格）")
    if subject == user.oidc_subject:
        return user
    if subject is not None and session.scalar(select(User.id).where(User.oidc_subject == subject)) is not None:
        raise ConflictError("该统一身份账号已关联其他账号")
    before = _snapshot(user)
    if user.oidc_subject is not None:
        end_sessions(session, user.id)
    user.oidc_subject = subject
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError("该统一身份账号已关联其他账号") from exc
    audit.record(session, actor, "link_oidc" if subject else "unlink_oidc", "user", user.id,
                 {"before": before, "after": _snapshot(user)}, now)
    return user


def create_first_admin(session: Session, username: str, display_name: str, now: datetime) -> tuple[User, str]:
    """The first office account on a database that has none (and the office organisation if missing).

    Refused when an office account exists, active or not: from then on accounts are added by it.
    """
    if session.scalar(select(func.count(User.id)).where(User.role == "office")):
        raise ConflictError("已有安委办账号：请由安委办在“账号管理”中添加账号，或使用 user add")
    office = session.scalar(select(Organisation).where(Organisation.kind == "office").order_by(Organisation.id))
    if office is None:
        code, name = FIRST_OFFICE
        office = Organisation(code=code, name=name, kind="office")
        session.add(office)
        session.flush()
        audit.record(session, None, "add_organisation", "organisation", office.id,
                     {"before": None, "after": {"code": code, "name": name, "kind": "office"}}, now)
    return add_account(session, None, NewAccount(username, office.id, "office", display_name), now)


def find_account(session: Session, username: str) -> User:
    """The account named `username` (for the command line)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"没有用户 {username}")
    return user


def organisation_by_code(session: Session, code: str) -> Organisation:
    organisation = session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        raise NotFoundError(f"没有编码为 {code} 的单位")
    return organisation


def _require_manager(actor: User | None) -> None:
    if not may_manage_accounts(actor):
        raise PermissionDeniedError("只有安委办、部门、镇街和企业主要负责人可以管理账号")


def _managed(session: Session, actor: User | None, user_id: int) -> User:
    _require_manager(actor)
    user = session.get(User, user_id, with_for_update={"of": User})
    if user is None or not may_manage(actor, user.organisation_id):
        raise NotFoundError(f"no user {user_id}")
    return user


def _checked(session: Session, new: NewAccount, organisation: Organisation) -> dict[str, Any]:
    """The new account's columns, or InvalidInputError naming the first wrong field."""
    username, name = new.username.strip(), new.display_name.strip()
    phone, email, role = new.phone.strip(), new.email.strip(), new.role or organisation.kind
    if not USERNAME.fullmatch(username):
        raise InvalidInputError("用户名应为 3–80 位字母、数字或 . _ -，以字母或数字开头")
    if not name or len(name) > 100:
        raise InvalidInputError("请填写姓名（不超过 100 字）")
    if role not in ROLES or role != organisation.kind:
        raise InvalidInputError("账号角色须与所在单位的类型一致（企业、监管部门、镇街或安委办）")
    if phone and not PHONE.fullmatch(phone):
        raise InvalidInputError("电话号码格式不正确")
    if email and (len(email) > 200 or not EMAIL.fullmatch(email)):
        raise InvalidInputError("电子邮箱格式不正确")
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise ConflictError("该用户名已被使用")
    return {"username": username, "display_name": name, "role": role, "phone": phone or None,
            "email": email or None}


def _snapshot(user: User) -> dict[str, Any]:
    """What the audit keeps of an account (never a password or its hash)."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "organisation_id": user.organisation_id, "phone": user.phone, "email": user.email,
            "active": user.active, "must_change_password": user.must_change_password,
            "oidc_subject": user.oidc_subject}
