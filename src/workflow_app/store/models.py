"""SQLAlchemy 2 typed models: organisations, users, model versions, instances and their
projections (inbox, timers), hazards, the audit log and the notice outbox."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from .name_search import INITIALS_LENGTH, initials

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as UTC and always returns aware UTC datetimes, on SQLite too.

    SQLite keeps no time zone: without this an aware value would be stored as its local
    wall time and come back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is stored")
        moment: datetime = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (Alembic needs them on SQLite)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class Sector(Base):
    """An industry sector and the department that supervises it (管行业必须管安全)."""

    __tablename__ = "sectors"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))


class Organisation(Base):
    """An enterprise, a town/street, a department or the safety committee office."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)  # enterprise | town | department | office
    # a Sector code; no foreign key, because sectors in turn name their department
    sector_code: Mapped[str | None] = mapped_column(String(40), index=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    address: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(200))  # notices by e-mail go here
    webhook_url: Mapped[str | None] = mapped_column(String(500))  # a WeCom / DingTalk group robot
    risk_colour: Mapped[str | None] = mapped_column(String(10))  # enterprise risk grade: red | orange | yellow | blue
    # the enterprise's profile (一企一档); empty for towns, departments and the office
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)  # 统一社会信用代码 (GB 32100)
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))  # beside its sectors'
    major_hazard_source: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    principal_name: Mapped[str | None] = mapped_column(String(50))
    principal_phone: Mapped[str | None] = mapped_column(String(40))
    safety_officer_name: Mapped[str | None] = mapped_column(String(50))
    safety_officer_phone: Mapped[str | None] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[float | None] = mapped_column(Numeric(9, 6))
    status: Mapped[str] = mapped_column(String(10), default="active", server_default="active")  # active|closed|merged
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # raised by every profile edit: an edit made on a stale copy is refused (a concurrent edit)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # set with the name (see `_name_set`); a bulk insert that bypasses the ORM must fill it with `initials`
    name_initials: Mapped[str] = mapped_column(String(INITIALS_LENGTH), default="", server_default="", index=True)

    @validates("name")
    def _name_set(self, _key: str, name: str) -> str:
        self.name_initials = initials(name)
        return name


class EnterpriseSector(Base):
    """A sector an enterprise works in; `Organisation.sector_code` is its main one (statistics count it there)."""

    __tablename__ = "enterprise_sectors"
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    sector_code: Mapped[str] = mapped_column(ForeignKey("sectors.code"), primary_key=True, index=True)


class Supervision(Base):
    """A department that supervises an enterprise (三管三必须: several may). Exactly one is the lead:
    it reviews major-hazard plans and verifies closures (unless its own inspection found the hazard,
    another department's inspection makes that department the verifier)."""

    __tablename__ = "supervisions"
    __table_args__ = (
        Index("uq_supervisions_lead", "enterprise_id", unique=True,
              sqlite_where=text("is_lead"), postgresql_where=text("is_lead")),
    )
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True, index=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)


class RiskColourChange(Base):
    """One setting of an enterprise's risk colour: the history shown in its file (一企一档)."""

    __tablename__ = "risk_colour_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    colour: Mapped[str] = mapped_column(String(10))  # red | orange | yellow | blue
    set_at: Mapped[datetime]
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_by_name: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(200))


class User(Base):
    """A person who signs in; acts for one organisation in one role."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))  # enterprise | department | town | office
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # an enterprise's principal (主要负责人): signs its self-inspections
    is_principal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # bumped by sign-out and a password change: every session signed in with an older value ends
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # set for an account's first password and after a reset: every page leads to 修改密码 until changed
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    # the OpenID Connect subject ("sub") of the one configured issuer this account signs in as; never set silently
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class SignInFailures(Base):
    """Failed sign-ins of one account (the username typed) or one client address in a fixed window."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (UniqueConstraint("scope", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))  # account | address
    key: Mapped[str] = mapped_column(String(100))
    window_started_at: Mapped[datetime] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(Integer)  # attempts under way count until they succeed
    blocked_until: Mapped[datetime | None]


class ModelVersion(Base):
    """One deployed version of a BPMN model: its XML and serialized spec, stored once."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("process_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    xml: Mapped[str] = mapped_column(Text, deferred=True)
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    lane_roles: Mapped[dict | None] = mapped_column(JSON)  # lanes named at deploy → role, beside the built-in ones
    deployed_at: Mapped[datetime]


class ProcessInstanceRow(Base):
    """A running or finished instance: its own state (compressed JSON) and a version counter."""

    __tablename__ = "process_instances"
    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)  # running | completed | incident
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    model_version: Mapped[ModelVersion] = relationship()

    __mapper_args__ = {"version_id_col": version}


class InboxTask(Base):
    """Projection of a user task: who may act on it, by when, and who did.

    Rows stay after completion (completed_at set) so that a late second submission is
    told who completed the task, and the hazard page can list the steps taken.
    """

    __tablename__ = "inbox_tasks"
    __table_args__ = (
        # the inbox pages read open tasks only: partial indexes keep them small and ordered by due date
        Index("ix_inbox_tasks_open_group", "organisation_id", "role", "due_on",
              sqlite_where=text("completed_at IS NULL"), postgresql_where=text("completed_at IS NULL")),
        # a group's open tasks with every column the `todo` tab's and the home page's counts test (who claimed
        # it, due date, step), so that they are counted from the index alone (0031). completed_at is listed
        # although always NULL here: SQLite counts an index as covering only if it holds every column the
        # query names, its WHERE included
        Index("ix_inbox_tasks_open_counts", "organisation_id", "role", "assignee_id", "due_on", "bpmn_id",
              "completed_at", sqlite_where=text("completed_at IS NULL"), postgresql_where=text("completed_at IS NULL")),
        Index("ix_inbox_tasks_open_enterprise", "enterprise_id", "due_on", "completed_at",  # covering (0033)
              sqlite_where=text("completed_at IS NULL"), postgresql_where=text("completed_at IS NULL")),
        Index("ix_inbox_tasks_open_due", "due_on",
              sqlite_where=text("completed_at IS NULL"), postgresql_where=text("completed_at IS NULL")),
        Index("ix_inbox_tasks_open_assignee", "assignee_id", "due_on",
              sqlite_where=text("completed_at IS NULL"), postgresql_where=text("completed_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    period: Mapped[str | None] = mapped_column(String(20))  # a campaign task's week or month (W03, 2023-06)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hazard: Mapped[Hazard | None] = relationship(lazy="raise")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="raise")


class TimerRow(Base):
    """Projection of a waiting timer: the sweep reads only rows with fire_at <= now."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    fire_at: Mapped[datetime] = mapped_column(index=True)


class TimerFiring(Base):
    """One firing of one timer occurrence; the unique key makes a second firing impossible."""

    __tablename__ = "timer_firings"
    __table_args__ = (UniqueConstraint("instance_id", "timer_task_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    timer_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    notice_kind: Mapped[str | None] = mapped_column(String(40))
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime]


KPI_COLUMNS = ("status", "supervision_listed", "rectification_deadline", "overdue_since")
UNMARKED_LIVE = "status NOT IN ('closed', 'rejected') AND overdue_since IS NULL"


class Hazard(Base):
    """The business record of one hazard (隐患), kept in step with its process instance."""

    __tablename__ = "hazards"
    __table_args__ = (  # the home page's figures: hazards found in a period, of all or of some enterprises
        Index("ix_hazards_kpi_found", "found_on", "enterprise_id", *KPI_COLUMNS),
        Index("ix_hazards_kpi_enterprise", "enterprise_id", "found_on", *KPI_COLUMNS),
        # live hazards not (yet) marked overdue, by deadline: the tiles' overdue ones beyond the tallies' (0033)
        Index("ix_hazards_due_unmarked", "rectification_deadline", "enterprise_id", "found_on", "status",
              "overdue_since", sqlite_where=text(UNMARKED_LIVE), postgresql_where=text(UNMARKED_LIVE)),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10), index=True)  # general | major
    status: Mapped[str] = mapped_column(String(20), index=True)
    found_on: Mapped[date] = mapped_column(Date)
    reported_at: Mapped[datetime]
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # a public reporter's own name and contact, if given: shown to the safety committee office only
    reporter_name: Mapped[str | None] = mapped_column(String(50))
    reporter_contact: Mapped[str | None] = mapped_column(String(100))
    receipt_code: Mapped[str | None] = mapped_column(String(20), unique=True)  # a public reporter's receipt
    responsible_person: Mapped[str | None] = mapped_column(String(50))
    rectification_measures: Mapped[str | None] = mapped_column(Text)
    rectification_funds: Mapped[float | None] = mapped_column(Numeric(14, 2))
    rectification_deadline: Mapped[date | None] = mapped_column(Date, index=True)
    emergency_plan: Mapped[str | None] = mapped_column(Text)
    supervision_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_since: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # found by an enforcement inspection; a major one the enterprise had not reported is 一案双罚
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    penalty: Mapped[str | None] = mapped_column(String(20))  # double_penalty | not_penalised
    # the reward granted to a public or whistleblower reporter of a confirmed major hazard (yuan)
    reward_amount: Mapped[float | None] = mapped_column(Numeric(14, 2))
    rewarded_at: Mapped[datetime | None]
    enterprise: Mapped[Organisation] = relationship(lazy="joined", foreign_keys=[enterprise_id])
    # the items of judgement standards (or key inspection items) it was judged against: that edition's, kept
    judged_items: Mapped[list[StandardItem]] = relationship(secondary="hazard_judged_items",
                                                            order_by="StandardItem.id")


class HazardTally(Base):
    """How many hazards an enterprise found on a day, by state and listing (the home page's KPI tiles read these).

    Kept by database triggers on `hazards` (migration 0033) in the same transaction as every insert, update or
    delete of a hazard, so no writer can forget them and a rolled-back change leaves them as they were. State:
    `closed`, `rejected`, else `overdue` once the overdue timer marked it (overdue_since), else `open`. A migration
    that rebuilds `hazards` on SQLite (batch mode) drops its triggers: recreate them (tests/test_hazard_tallies.py
    checks they exist at head).
    """

    __tablename__ = "hazard_tallies"
    __table_args__ = (Index("ix_hazard_tallies_found", "found_on", "enterprise_id", "state", "listed", "hazards"),)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    found_on: Mapped[date] = mapped_column(Date, primary_key=True)
    state: Mapped[str] = mapped_column(String(10), primary_key=True)
    listed: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    hazards: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """Append-only log; each row's hash covers its content and the previous row's hash."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(60), index=True)
    detail: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(16))  # the fingerprint of the HMAC key; None: plain SHA-256


class AuditHead(Base):
    """The chain's newest hash; writers lock this one row so the chain never forks."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))


PENDING, SENT, PARKED, HELD, DIGESTED = "pending", "sent", "parked", "held", "digested"
NOTICE_STATUSES = (PENDING, SENT, PARKED, HELD, DIGESTED)
"""A notice's `status`: `pending` waits for the dispatcher (the only status it sends), `sent` was delivered
(in-app ones when queued), `parked` failed for good until the office retries it, `held` is a personal e-mail or
SMS beyond its person's daily cap (not sent; the daily digest rolls it in) and `digested` one the digest took."""


class NoticePreference(Base):
    """A person's choice of one channel for one notice kind (通知设置); a kind and channel without a row follows
    the default (services/notice_preferences.py). In-app notices are always on, so they have no row."""

    __tablename__ = "notice_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)  # email | sms
    enabled: Mapped[bool] = mapped_column(Boolean)


class Notice(Base):
    """Outbox of notices; the idempotency key makes queuing the same notice twice impossible.

    `pending` notices are sent by the dispatcher, which leases each one just before sending
    it (`leased_by` a token of that claim, `lease_until`), so two dispatchers never send the same
    one and only the holder records the outcome; a failure is retried at
    `next_attempt_at` with growing delays and, after the last attempt, `parked` for the
    office to see and retry. In-app notices are delivered when queued (`sent`).
    """

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "status", "next_attempt_at"),
                      # the notice list's two kinds of line, each read newest first (notice_centre, 0035)
                      Index("ix_notices_person_lines", "recipient_user_id", "id"),
                      Index("ix_notices_org_lines", "recipient_org_id", "recipient_user_id", "id"),
                      # a person's own notice of an event: the notice list hides an organisation's line they have
                      # their own of (notice_centre.shown_to), one lookup per line (0035)
                      Index("ix_notices_person_event", "recipient_user_id", "event_key"),
                      # the unread badge on every page (notice_centre.unread_count) reads only unread notices (0035)
                      Index("ix_notices_unread", "recipient_user_id", "recipient_org_id", "channel",
                            sqlite_where=text("read_at IS NULL"), postgresql_where=text("read_at IS NULL")))
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20), default="in_app")  # in_app | email | webhook | sms
    kind: Mapped[str] = mapped_column(String(40))
    recipient_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # a notice to one person (SMS, their own e-mail, their in-app list); None: to the organisation as a whole
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"))
    # the event the notice tells of (a timer occurrence, a decision), shared by its organisation and personal
    # notices; None for notices no person gets by name (holiday calendar, audit checkpoints)
    event_key: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)  # NOTICE_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None]  # in-app: when someone of the recipient organisation opened it


class JobRun(Base):
    """The last run of a scheduled job (sweep, dispatch), for /healthz across processes."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[float | None] = mapped_column(Numeric(12, 1))
    processed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Evidence(Base):
    """A photo attached to a hazard (before or after rectification), stored by content hash.

    The file lives under the instance folder at evidence/<sha256[:2]>/<sha256>; the same
    picture attached twice to one hazard is one row.
    """

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("hazard_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(60))  # the form field it was attached through
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime]


class Campaign(Base):
    """A campaign (专项行动) run from campaign.bpmn with its own parameters (dates, units)."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSON)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | closed
    phase: Mapped[str] = mapped_column(String(30))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class CampaignSubmission(Base):
    """What a unit filed in a campaign: its action plan and contact (附表4) or a weekly table (附表1/2)."""

    __tablename__ = "campaign_submissions"
    __table_args__ = (UniqueConstraint("campaign_id", "organisation_id", "kind", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(20))  # plan | weekly | bulletin | report | summary
    period: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict] = mapped_column(JSON)
    submitted_at: Mapped[datetime]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Duty(Base):
    """One occurrence of an enterprise's recurring duty (inspection led by the principal, drills)."""

    __tablename__ = "duties"
    __table_args__ = (UniqueConstraint("enterprise_id", "kind", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # principal_inspection | special_plan_drill | onsite_plan_drill
    period: Mapped[str] = mapped_column(String(20))  # 2023-06, 2023-Q3, 2023-H2, 2023
    due_on: Mapped[date] = mapped_column(Date)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | done
    performed_on: Mapped[date | None] = mapped_column(Date)
    overdue_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    enterprise: Mapped[Organisation] = relationship(lazy="joined")


class LiaisonAssignment(Base):
    """A department's liaison enforcement team (包联执法组) that inspects an enterprise for a whole year:
    one per enterprise, year and department (each supervising department has its own)."""

    __tablename__ = "liaison_assignments"
    __table_args__ = (UniqueConstraint("enterprise_id", "year", "department_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    team: Mapped[str] = mapped_column(String(100))


class Inspection(Base):
    """An enforcement inspection (执法检查) of an enterprise by a department's liaison team."""

    __tablename__ = "inspections"
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    team: Mapped[str] = mapped_column(String(100))
    inspected_on: Mapped[date] = mapped_column(Date)
    inspectors: Mapped[str | None] = mapped_column(String(200))  # the inspectors' names (执法人员), as signed
    findings: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class Penalty(Base):
    """An administrative penalty (行政处罚) decided on an inspection's findings. 一案双罚 (the unit and its
    principal both penalised) is two records of one case, each linked to the other."""

    __tablename__ = "penalties"
    __table_args__ = (UniqueConstraint("department_id", "case_number", "target"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"), index=True)
    case_number: Mapped[str] = mapped_column(String(60))
    legal_basis: Mapped[str] = mapped_column(String(300))
    # warning | fine | suspension | closure_recommendation | judicial_transfer
    kind: Mapped[str] = mapped_column(String(30))
    amount: Mapped[float | None] = mapped_column(Numeric(14, 2))  # yuan, for a fine
    target: Mapped[str] = mapped_column(String(10))  # unit | principal
    target_name: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_on: Mapped[date] = mapped_column(Date)
    linked_penalty_id: Mapped[int | None] = mapped_column(ForeignKey("penalties.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class InspectionPlan(Base):
    """A department's yearly inspection plan: enterprises and inspectors drawn at random (双随机) from
    the pools recorded here, reproducible from the seed."""

    __tablename__ = "inspection_plans"
    __table_args__ = (UniqueConstraint("department_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column(Integer)
    seed: Mapped[str] = mapped_column(String(20))  # as text (fits any database's integers)
    sample_size: Mapped[int] = mapped_column(Integer)
    per_enterprise: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))  # inspectors drawn
    enterprise_pool: Mapped[list] = mapped_column(JSON)  # enterprise ids, ascending
    inspector_pool: Mapped[list] = mapped_column(JSON)  # user ids, ascending
    drawn_at: Mapped[datetime]
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class InspectionPlanEntry(Base):
    """One enterprise drawn into a yearly plan, the inspectors drawn for it, and the inspection that did it."""

    __tablename__ = "inspection_plan_entries"
    __table_args__ = (UniqueConstraint("plan_id", "enterprise_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plans.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    inspectors: Mapped[list] = mapped_column(JSON)  # user ids
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))


class SupervisionListing(Base):
    """挂牌督办: a department proposes listing a major hazard, the office decides (supervising unit,
    deadline, whether production stops), and delisting (摘牌) follows the department's re-inspection
    and, where production stopped, approval to resume it (恢复生产)."""

    __tablename__ = "supervision_listings"
    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # proposed | listed | refused | delisted
    proposing_department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime]
    proposal_reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_opinion: Mapped[str | None] = mapped_column(Text)
    supervising_unit_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    deadline: Mapped[date | None] = mapped_column(Date)
    stop_production: Mapped[bool] = mapped_column(Boolean, default=False)
    reinspected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reinspected_at: Mapped[datetime | None]
    reinspection_opinion: Mapped[str | None] = mapped_column(Text)
    production_resumed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    production_resumed_at: Mapped[datetime | None]
    delisted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    hazard: Mapped[Hazard] = relationship()
    supervising_unit: Mapped[Organisation | None] = relationship(foreign_keys=[supervising_unit_id])
    proposing_department: Mapped[Organisation] = relationship(foreign_keys=[proposing_department_id])


class IssuedDocument(Base):
    """A printable enforcement document issued from a record (责令限期整改指令书 …) with its serial
    number: one series per issuing unit, kind and year; a record's document is issued once."""

    __tablename__ = "issued_documents"
    __table_args__ = (UniqueConstraint("issuer_id", "kind", "year", "number"),
                      UniqueConstraint("kind", "subject_type", "subject_id", name="uq_issued_documents_subject"))
    id: Mapped[int] = mapped_column(primary_key=True)
    # rectification_order | reinspection_opinion | closeout_slip | listing_notice
    kind: Mapped[str] = mapped_column(String(30))
    issuer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    subject_type: Mapped[str] = mapped_column(String(20))  # inspection | hazard | listing
    subject_id: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ApiToken(Base):
    """A personal API token: only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(40))  # "read" or "read,write"
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class IdempotentResponse(Base):
    """The first response to a POST with an Idempotency-Key, replayed for the same key."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request: Mapped[str] = mapped_column(String(300))  # method and path the key was first used with
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Case(Base):
    """A run of a model that is not one of the built-in records (a permit, a third-party process)."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | completed
    outcome: Mapped[str | None] = mapped_column(String(40))  # the `outcome` property of the end event reached
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    enterprise: Mapped[Organisation] = relationship(lazy="joined")


class Incident(Base):
    """A failed script, service task or gateway an instance waits at until an admin retries or skips it."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_open", "resolved_at", "occurred_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON)
    skippable: Mapped[bool] = mapped_column(Boolean)
    occurred_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(20))  # retried | skipped
    reason: Mapped[str | None] = mapped_column(Text)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Delegation(Base):
    """A user away names a colleague who acts on their tasks for a date range (Asia/Shanghai dates)."""

    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_substitute", "substitute_id", "starts_on", "ends_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    substitute_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id], lazy="joined")


class SpotCheck(Base):
    """A month's random draw of closed hazards for re-verification (抽检销号): reproducible from its seed."""

    __tablename__ = "spot_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # the month whose closures were sampled
    seed: Mapped[str] = mapped_column(String(20))  # the random seed, as text (fits any database's integers)
    rate: Mapped[float] = mapped_column(Numeric(5, 4))
    population: Mapped[list] = mapped_column(JSON)  # ids of the hazards closed that month, ascending
    drawn_at: Mapped[datetime]
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class SpotCheckItem(Base):
    """One drawn hazard and the result of its re-verification."""

    __tablename__ = "spot_check_items"
    __table_args__ = (UniqueConstraint("spot_check_id", "hazard_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    spot_check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    result: Mapped[str] = mapped_column(String(10), default="pending")  # pending | passed | failed
    note: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None]
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hazard: Mapped[Hazard] = relationship(lazy="joined")


class Standard(Base):
    """One edition of a major-hazard judgement standard (or a department's key inspection items).

    A new edition is a new row that names the one it replaces; hazards judged under the old
    edition keep pointing at its items.
    """

    __tablename__ = "standards"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # standard | key_items
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(100))
    doc_number: Mapped[str] = mapped_column(String(100))
    effective_from: Mapped[date] = mapped_column(Date)
    sectors: Mapped[list] = mapped_column(JSON)  # sector codes it covers
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("standards.id"))
    complete: Mapped[bool] = mapped_column(Boolean, default=True)  # False: the item list is known to be partial
    imported_at: Mapped[datetime]


class StandardItem(Base):
    """One item of a standard: a hazard matching it is a major hazard."""

    __tablename__ = "standard_items"
    __table_args__ = (UniqueConstraint("standard_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    group: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    standard: Mapped[Standard] = relationship(lazy="joined")


class CalendarDay(Base):
    """A day that differs from Monday to Friday: a weekday holiday (放假) or a weekend working day (调休上班)."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday | workday
    name: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(10))  # library | import
    imported_at: Mapped[datetime]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CalendarYear(Base):
    """A year whose holiday schedule is complete in `calendar_days`; a year without a row counts Monday-Friday.

    `token` changes whenever the year is written, so a process's cached calendar knows it is stale.
    """

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(10))  # library | import
    imported_at: Mapped[datetime]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    token: Mapped[str] = mapped_column(String(32))


class HazardJudgedItem(Base):
    """A hazard and one item it was judged against (a hazard may match several)."""

    __tablename__ = "hazard_judged_items"
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("standard_items.id"), primary_key=True, index=True)


class Checklist(Base):
    """A department's self-inspection checklist for one sector: items of standards and key inspection items."""

    __tablename__ = "checklists"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    sector_code: Mapped[str] = mapped_column(String(40), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]  # no new walks once withdrawn; walks already made stay


class ChecklistItem(Base):
    """One line of a checklist: an item of a standard (that edition's), in the checklist's order."""

    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("checklist_id", "standard_item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklists.id"))
    position: Mapped[int] = mapped_column(Integer)
    standard_item_id: Mapped[int] = mapped_column(ForeignKey("standard_items.id"))
    item: Mapped[StandardItem] = relationship(lazy="joined")


class SelfInspection(Base):
    """An enterprise's walk of a checklist: answered item by item, submitted, then signed by its principal.

    `version` guards the walk against two people saving it at once.
    """

    __tablename__ = "self_inspections"
    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklists.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # self_inspection | principal_inspection
    status: Mapped[str] = mapped_column(String(20))  # walking | submitted | signed
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None] = mapped_column(index=True)  # counted in the week it was signed
    checklist: Mapped[Checklist] = relationship(lazy="joined")
    enterprise: Mapped[Organisation] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


class SelfInspectionAnswer(Base):
    """The answer to one checklist item: compliant, hazard found or not applicable, with a note and photos.

    `photos` lists the stored files ({sha256, media_type, size, name}); a found item's hazard
    (started when the walk is submitted) is `hazard_id`.
    """

    __tablename__ = "self_inspection_answers"
    __table_args__ = (UniqueConstraint("self_inspection_id", "checklist_item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    self_inspection_id: Mapped[int] = mapped_column(ForeignKey("self_inspections.id"))
    checklist_item_id: Mapped[int] = mapped_column(ForeignKey("checklist_items.id"))
    answer: Mapped[str] = mapped_column(String(20))  # compliant | found | not_applicable
    note: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(20))
    photos: Mapped[list] = mapped_column(JSON)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"))
    answered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime]
