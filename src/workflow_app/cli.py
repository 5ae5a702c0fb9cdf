"""The `workflow-app` command: check models, set up the database, demo data, sweep
timers, verify the audit chain, and report / list / complete from a script."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from datetime import UTC, date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .engine import FormValidationError
from .engine.calendar import SHANGHAI
from .logs import configure_logging
from .services import audit, demo, hazards, people, tasks
from .services.errors import ServiceError
from .services.evidence import EvidenceStore
from .services.setup import check_models, init_db
from .services.sweep import sweep
from .store.database import make_engine, make_session_factory, transaction
from .store.models import Hazard, Organisation, SpotCheck, SpotCheckItem, Standard, StandardItem, User


class Context:
    """Settings, engine and session factory, created on first use."""

    def __init__(self) -> None:
        try:
            self.settings = Settings.from_env()
        except ValueError as exc:  # a setting that cannot work: say which, without a traceback
            raise click.ClickException(str(exc)) from exc

    @cached_property
    def engine(self) -> Any:
        return make_engine(self.settings.database_url, self.settings.database_limits)

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        from .services import holiday_calendar

        return holiday_calendar.follow(make_session_factory(self.engine, self.settings.audit_key))


def _now(value: str | None) -> datetime:
    """`--now`: an ISO instant with its zone, or a bare date (YYYY-MM-DD) meaning 09:00 that day in Shanghai."""
    if not value:
        return datetime.now(UTC)
    if len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), time(9), SHANGHAI)
        except ValueError:
            raise click.BadParameter("a date is YYYY-MM-DD", param_hint="--now") from None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-11-25T09:00:00+08:00", param_hint="--now")
    return moment


def _fields(pairs: tuple[str, ...], json_text: str | None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json_text) if json_text else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected name=value, got {pair!r}", param_hint="--field")
        data[key] = value
    return data


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    return user


def _fail(exc: Exception) -> None:
    if isinstance(exc, FormValidationError):
        lines = [f"  {e.field_id}: {e.message}" for e in exc.errors]
        raise click.ClickException("invalid form data, nothing was changed:\n" + "\n".join(lines))
    raise click.ClickException(f"{type(exc).__name__}: {exc}")


pass_context = click.make_pass_decorator(Context, ensure=True)
now_option = click.option("--now", "now_text", help="act at this ISO 8601 instant (default: now)")
field_option = click.option("--field", "fields", multiple=True, help="form field as name=value (repeatable)")
json_option = click.option("--json", "json_text", help="form fields as a JSON object")


@click.group()
def main() -> None:
    """隐患闭环管理 — hazard closed-loop workflow."""
    configure_logging()


@main.command()
@pass_context
def check(ctx: Context) -> None:
    """Validate every BPMN model; exit non-zero naming the file and element of each fault."""
    results = check_models(ctx.settings.bpmn_dir)
    if not results:
        raise click.ClickException(f"no .bpmn files in {ctx.settings.bpmn_dir}")
    for path, error in results:
        click.echo(f"ok    {path.name}" if error is None else f"FAIL  {error}")
    if any(error for _, error in results):
        sys.exit(1)


@main.command("init-db")
@pass_context
def init_db_command(ctx: Context) -> None:
    """Migrate the database to the newest schema and deploy the models in bpmn/."""
    for version in init_db(ctx.engine, ctx.factory, ctx.settings.bpmn_dir, datetime.now(UTC)):
        click.echo(f"model {version.process_id} v{version.version} ({version.file_name})")
    click.echo(f"database ready: {ctx.engine.url.render_as_string(hide_password=True)}")


@main.command("downgrade-db")
@click.argument("revision")
@click.option("--accept-data-loss", is_flag=True, help="go ahead even if rows would be destroyed (back up first)")
@pass_context
def downgrade_db_command(ctx: Context, revision: str, accept_data_loss: bool) -> None:
    """Downgrade the schema to REVISION (e.g. 0017, -1); refused, naming the rows, if it would destroy any."""
    from .store.downgrade import DataLossRefused, downgrade

    try:
        lost = downgrade(ctx.engine, revision, accept_data_loss)
    except (DataLossRefused, ValueError) as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"schema downgraded to {revision}" + (f"; destroyed: {'; '.join(lost)}" if lost else ""))


@main.command("demo")
@now_option
@pass_context
def demo_command(ctx: Context, now_text: str | None) -> None:
    """Set up the database and load the demo zone (safe to run again)."""
    now = _now(now_text)
    init_db(ctx.engine, ctx.factory, ctx.settings.bpmn_dir, now)
    with click.progressbar(length=len(demo.STAGES) * 2, label="demo hazards") as bar:
        def progress(steps: Any) -> Any:
            for step in steps:
                yield step
                bar.update(1)
        created = demo.seed(ctx.factory, now, EvidenceStore(Path(ctx.settings.instance_dir) / "evidence"), progress)
    from .scheduling import notice_policy
    fired = sweep(ctx.factory, now, policy=notice_policy(ctx.settings))
    click.echo("demo data created" if created else "demo data already present: nothing changed")
    click.echo(f"timers fired: {len(fired)}")
    with transaction(ctx.factory) as session:
        for user in demo.demo_users(session):
            click.echo(f"  {user.username:<16} {user.role:<11} {user.organisation}")
    click.echo(f"every demo account's password: {demo.DEMO_PASSWORD}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, help="port to listen on")
@click.option("--threads", default=8, show_default=True, help="worker threads")
@pass_context
def serve_command(ctx: Context, host: str, port: int, threads: int) -> None:
    """Serve the web app with the waitress WSGI server (and the scheduler, unless WORKFLOW_APP_SCHEDULER=0);
    SIGTERM stops it within 2 s."""
    from waitress import create_server

    from .scheduling import Shutdown, build_scheduler
    from .web import create_app

    app = create_app(ctx.settings, ctx.factory)
    shutdown = Shutdown()
    scheduler = (build_scheduler(ctx.settings, ctx.factory, blocking=False, shutdown=shutdown)
                 if ctx.settings.scheduler_in_serve else None)
    server = create_server(app, host=host, port=port, threads=threads,
                           max_request_body_size=app.config["MAX_CONTENT_LENGTH"])
    if scheduler is not None:
        scheduler.start()
        click.echo(f"scheduler: sweep and dispatch every {ctx.settings.sweep_seconds} s")
    click.echo(f"serving on http://{host}:{port}/  (Ctrl+C or SIGTERM stops it)")
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.run()
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already: a second SIGTERM must not interrupt it
        server.close()
        server.task_dispatcher.shutdown(timeout=SHUTDOWN_GRACE_SECONDS / 2)  # requests under way may finish
        _stop_scheduler(scheduler, shutdown, SHUTDOWN_GRACE_SECONDS / 2)


SHUTDOWN_GRACE_SECONDS = 1.5
"""How long requests and jobs under way may take to finish after SIGTERM (the promise is 2 s)."""


class _Stop(Exception):
    """Raised by the SIGTERM handler to leave waitress's loop (it would wait 5 s for SystemExit)."""


def _raise_stop(*_: Any) -> None:
    raise _Stop


def _stop_scheduler(scheduler: Any, shutdown: Any, grace: float) -> None:
    """Ask the jobs to stop after the unit they are on; if one is still busy after `grace` (a notice
    waiting on a slow endpoint), leave without it: its transaction rolls back with the connection, and
    its notice's lease runs out, so the notice goes at a later run."""
    shutdown.request()
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
    if not shutdown.wait_idle(grace):
        click.echo("stopped with a job under way; it is abandoned and redone at a later run")
        sys.stdout.flush()
        os._exit(0)


@main.command("scheduler")
@pass_context
def scheduler_command(ctx: Context) -> None:
    """Run only the scheduler (sweep and dispatch) until SIGTERM or Ctrl+C; stops within 2 s."""
    from .scheduling import Shutdown, build_scheduler

    shutdown = Shutdown()
    scheduler = build_scheduler(ctx.settings, ctx.factory, blocking=True, shutdown=shutdown)

    def stop(*_: Any) -> None:
        shutdown.request()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"scheduler: sweep and dispatch every {ctx.settings.sweep_seconds} s (SIGTERM stops it)")
    with contextlib.suppress(KeyboardInterrupt):
        scheduler.start()
    _stop_scheduler(scheduler, shutdown, SHUTDOWN_GRACE_SECONDS)
    click.echo("scheduler stopped")


@main.group("notices")
def notices_group() -> None:
    """The notice outbox."""


@notices_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "parked"]), help="only notices in this state")
@click.option("--limit", default=50, show_default=True)
@pass_context
def notices_list(ctx: Context, status: str | None, limit: int) -> None:
    """Newest notices first: id, state, channel, attempts, recipient, subject, last error."""
    from .store.models import Notice

    with transaction(ctx.factory) as session:
        query = select(Notice, Organisation.name).join(Organisation, Organisation.id == Notice.recipient_org_id)
        if status:
            query = query.where(Notice.status == status)
        for notice, recipient in session.execute(query.order_by(Notice.id.desc()).limit(limit)):
            error = f"  ! {notice.last_error}" if notice.last_error else ""
            click.echo(f"{notice.id:>6} {notice.status:<8} {notice.channel:<8} {notice.attempts:>2}x  "
                       f"{recipient}  {notice.subject}{error}")


@notices_group.command("retry")
@click.argument("notice_ids", nargs=-1, type=int)
@click.option("--all-parked", is_flag=True, help="retry every parked notice")
@pass_context
def notices_retry(ctx: Context, notice_ids: tuple[int, ...], all_parked: bool) -> None:
    """Queue parked notices again (by id, or --all-parked)."""
    from .services.dispatch import retry_parked

    if not notice_ids and not all_parked:
        raise click.UsageError("give notice ids or --all-parked")
    with transaction(ctx.factory) as session:
        count = retry_parked(session, None if all_parked else list(notice_ids))
    click.echo(f"{count} notice(s) queued again")


@main.command("sweep")
@now_option
@pass_context
def sweep_command(ctx: Context, now_text: str | None) -> None:
    """Fire every timer due at --now and print what fired."""
    from .scheduling import notice_policy
    fired = sweep(ctx.factory, _now(now_text), policy=notice_policy(ctx.settings))
    for firing in fired:
        click.echo(f"{firing.code}  {firing.notice:<10} {firing.timer}  due {firing.due_at.isoformat()}")
    click.echo(f"{len(fired)} timer(s) fired")


@main.command("digest")
@now_option
@pass_context
def digest_command(ctx: Context, now_text: str | None) -> None:
    """Send today's daily digest now to everyone who has not had it (nothing before 08:30 or on a day off)."""
    from .services.digest import send_digests

    moment = _now(now_text)

    def progress(done: int, total: int) -> None:
        click.echo(f"  {done}/{total} people", err=True)

    run = send_digests(ctx.factory, moment, ctx.settings.base_url, progress)
    if run.day is None:
        raise click.ClickException("no digest is due now: it goes out from 08:30 (Asia/Shanghai) on working days")
    click.echo(f"digest {run.day.isoformat()}: {run.sent} sent now, {run.already} had it already, "
               f"{run.nothing} with nothing to say")


@main.group("campaign")
def campaign_group() -> None:
    """Campaigns (专项行动) run from bpmn/campaign.bpmn."""


@campaign_group.command("start")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="the campaign's parameters (TOML), e.g. campaigns/2023.toml")
@now_option
@pass_context
def campaign_start(ctx: Context, config_path: str, now_text: str | None) -> None:
    """Start a campaign from its parameters file."""
    from pathlib import Path

    from .services.campaigns import CampaignConfig, start_campaign

    try:
        config = CampaignConfig.load(Path(config_path))
        with transaction(ctx.factory) as session:
            campaign = start_campaign(session, None, config, _now(now_text))
            towns, departments = len(campaign.params["towns"]), len(campaign.params["departments"])
    except (ServiceError, FormValidationError) as exc:
        _fail(exc)
    click.echo(f"campaign {config.code} started: {config.name} ({towns} towns, {departments} departments)")


@campaign_group.command("status")
@click.argument("code")
@pass_context
def campaign_status_command(ctx: Context, code: str) -> None:
    """A campaign's phase timeline, who filed each week and each unit report, and its running counts."""
    from .services.campaigns import PHASE_NAMES, REPORT_NAMES, campaign_status

    try:
        with transaction(ctx.factory) as session:
            status = campaign_status(session, code)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{status.campaign.name}  [{status.campaign.status}]")
    for phase, deadline, state in status.phases:
        mark = {"past": "✓", "current": "▶", "future": " "}[state]
        click.echo(f"  {mark} {PHASE_NAMES[phase]:<16} until {deadline}")
    for period, units in status.periods.items():
        missing = "、".join(units["missing"]) or "—"
        click.echo(f"  {period}: {len(units['filed'])} filed, missing: {missing}")
    for filing in status.reports:
        missing = "、".join(filing.missing) or "—"
        click.echo(f"  {REPORT_NAMES[filing.kind]} due {filing.due_on}: {len(filing.filed)} filed, missing: {missing}")
    click.echo("  hazards since start: " + ", ".join(f"{k} {v}" for k, v in status.counts.items()))


@main.command("duties")
@now_option
@pass_context
def duties_command(ctx: Context, now_text: str | None) -> None:
    """Open the enterprise duties of the current periods (the scheduler does this too)."""
    from .services.duties import open_due_duties

    with transaction(ctx.factory) as session:
        opened = open_due_duties(session, _now(now_text))
    click.echo(f"{opened} duty task(s) opened")


@main.command("inspect")
@click.option("--user", "username", required=True, help="the department user recording it")
@click.option("--enterprise", "enterprise_code", required=True, help="enterprise code, e.g. E001")
@click.option("--team", required=True, help="the liaison team (包联执法组)")
@click.option("--on", "inspected_on", required=True, help="inspection date, YYYY-MM-DD")
@click.option("--findings", required=True, help="what was inspected and found")
@click.option("--inspectors", default="", help="the inspectors' names (执法人员)")
@click.option("--hazards-json", help="hazards found: a JSON list of start-form objects")
@click.option("--self-reported", multiple=True, type=int, help="id of a self-reported major hazard seen (repeatable)")
@now_option
@pass_context
def inspect_command(ctx: Context, username: str, enterprise_code: str, team: str, inspected_on: str, findings: str,
                    inspectors: str, hazards_json: str | None, self_reported: tuple[int, ...],
                    now_text: str | None) -> None:
    """Record an enforcement inspection; hazards found enter the loop (一案双罚 flagged)."""
    from .services.enforcement import record_inspection

    try:
        found = json.loads(hazards_json) if hazards_json else []
        with transaction(ctx.factory) as session:
            enterprise = session.scalar(select(Organisation).where(Organisation.code == enterprise_code))
            if enterprise is None:
                raise click.ClickException(f"no enterprise {enterprise_code!r}")
            result = record_inspection(session, _user(session, username), enterprise.id, team,
                                       date.fromisoformat(inspected_on), findings, found, list(self_reported),
                                       _now(now_text), inspectors=inspectors)
    except (ServiceError, FormValidationError, ValueError) as exc:
        _fail(exc)
    click.echo(f"inspection {result.inspection_id}: {len(result.new_hazard_ids)} hazard(s) found, "
               f"一案双罚 {result.double_penalty or '—'}, not penalised {result.not_penalised or '—'}")


@main.command("export")
@click.argument("name", type=click.Choice(["ledger.xlsx", "ledger.csv", "table1", "table2", "table3", "table4",
                                          "bulletin"]))
@click.option("--user", "username", required=True, help="export as this user (their role limits apply)")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--campaign", help="campaign code (default: the newest)")
@click.option("--week", help="ISO week for table1/table2, e.g. 2023-W23")
@click.option("--month", help="YYYY-MM for the bulletin (default: last month)")
@pass_context
def export_command(ctx: Context, name: str, username: str, out_path: str, campaign: str | None, week: str | None,
                   month: str | None) -> None:
    """Write the ledger, one of the plan's tables (XLSX) or the monthly bulletin (PDF)."""
    from .reports.bulletin import monthly_bulletin, previous_month
    from .reports.exports import ExportRequest, export

    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    try:
        with transaction(ctx.factory) as session, open(out_path, "wb") as out:
            user = _user(session, username)
            if name == "bulletin":
                if user.role not in ("office", "department", "town"):
                    raise click.ClickException("the bulletin is for the office, departments and towns")
                stats = monthly_bulletin(session, month or previous_month(today), out)
                rows = stats.total["found"]
            else:
                rows = export(session, user, ExportRequest(name, campaign, week), out, today)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{out_path}: {rows} row(s)" if name != "bulletin" else f"{out_path}: {rows} hazard(s) found that month")


@main.group("user")
def user_group() -> None:
    """Accounts."""


@user_group.command("principal")
@click.argument("username")
@pass_context
def user_principal(ctx: Context, username: str) -> None:
    """Make an enterprise user its principal (主要负责人), who signs its self-inspections."""
    from .services.self_inspections import set_principal

    try:
        with transaction(ctx.factory) as session:
            previous = set_principal(session, _user(session, username), datetime.now(UTC))
            replaced = f" (instead of {previous.username})" if previous else ""
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{username} is now the principal{replaced}")


@user_group.command("add")
@click.argument("username")
@click.option("--org", "org_code", required=True, help="the organisation's code, e.g. E001")
@click.option("--role", required=True, type=click.Choice(people.ROLES), help="the organisation's kind")
@click.option("--name", "display_name", required=True, help="the person's name as shown")
@click.option("--phone", default="", help="a phone number")
@click.option("--email", default="", help="an e-mail address")
@pass_context
def user_add(ctx: Context, username: str, org_code: str, role: str, display_name: str, phone: str,
             email: str) -> None:
    """Add an account; prints its one-time password (changed at the first sign-in)."""
    try:
        with transaction(ctx.factory) as session:
            organisation = people.organisation_by_code(session, org_code)
            new = people.NewAccount(username, organisation.id, role, display_name, phone, email)
            _user_row, plain = people.add_account(session, None, new, datetime.now(UTC))
    except ServiceError as exc:
        _fail(exc)
    _one_time(username, plain)


@user_group.command("disable")
@click.argument("username")
@pass_context
def user_disable(ctx: Context, username: str) -> None:
    """Disable an account: it cannot sign in, its sessions end, its claimed tasks go back to the queue."""
    _set_active(ctx, username, False)


@user_group.command("enable")
@click.argument("username")
@pass_context
def user_enable(ctx: Context, username: str) -> None:
    """Enable a disabled account again."""
    _set_active(ctx, username, True)


def _set_active(ctx: Context, username: str, active: bool) -> None:
    try:
        with transaction(ctx.factory) as session:
            user = people.find_account(session, username)
            people.set_active(session, None, user.id, active, datetime.now(UTC))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{username} {'enabled' if active else 'disabled'}")


@user_group.command("reset-password")
@click.argument("username")
@pass_context
def user_reset_password(ctx: Context, username: str) -> None:
    """Give an account a new one-time password (prints it); its sessions end."""
    try:
        with transaction(ctx.factory) as session:
            user = people.find_account(session, username)
            _user_row, plain = people.reset_password(session, None, user.id, datetime.now(UTC))
    except ServiceError as exc:
        _fail(exc)
    _one_time(username, plain)


@user_group.command("link-oidc")
@click.argument("username")
@click.argument("subject")
@pass_context
def user_link_oidc(ctx: Context, username: str, subject: str) -> None:
    """Link an account to its single sign-on subject (the provider's "sub" for that person)."""
    _set_oidc_subject(ctx, username, subject)
    click.echo(f"{username} signs in as subject {subject!r} of the single sign-on provider")


@user_group.command("unlink-oidc")
@click.argument("username")
@pass_context
def user_unlink_oidc(ctx: Context, username: str) -> None:
    """Unlink an account from single sign-on; its sessions end."""
    _set_oidc_subject(ctx, username, None)
    click.echo(f"{username} no longer signs in through single sign-on")


def _set_oidc_subject(ctx: Context, username: str, subject: str | None) -> None:
    try:
        with transaction(ctx.factory) as session:
            user = people.find_account(session, username)
            people.set_oidc_subject(session, None, user.id, subject, datetime.now(UTC))
    except ServiceError as exc:
        _fail(exc)


def _one_time(username: str, plain: str) -> None:
    click.echo(f"{username}: one-time password {plain}")
    click.echo("it is shown only now; the password must be changed at the first sign-in")


@main.group("admin")
def admin_group() -> None:
    """Setting up a zone."""


@admin_group.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="the person's name as shown")
@pass_context
def admin_create(ctx: Context, username: str, display_name: str) -> None:
    """The first office (安委办) account, on a database with none; prints its one-time password."""
    try:
        with transaction(ctx.factory) as session:
            user, plain = people.create_first_admin(session, username, display_name, datetime.now(UTC))
            office = f"{user.organisation.code} {user.organisation.name}"
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"office account {username} of {office}")
    _one_time(username, plain)


@main.group("token")
def token_group() -> None:
    """Personal API tokens."""


@token_group.command("create")
@click.option("--user", "username", required=True)
@click.option("--name", required=True, help="what the token is for")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["read", "write"]), default=("read",),
              show_default=True)
@click.option("--days", default=90, show_default=True, help="days until it expires")
@pass_context
def token_create(ctx: Context, username: str, name: str, scopes: tuple[str, ...], days: int) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from .services.tokens import create_token

    try:
        with transaction(ctx.factory) as session:
            plain, token = create_token(session, _user(session, username), name, list(scopes), days,
                                        datetime.now(UTC))
            token_id, expires = token.id, token.expires_at
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"token {token_id} ({','.join(scopes)}), expires {expires.isoformat()}:")
    click.echo(plain)


@token_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--user", "username", required=True)
@pass_context
def token_revoke(ctx: Context, token_id: int, username: str) -> None:
    """Revoke one of the user's tokens."""
    from .services.tokens import revoke_token

    try:
        with transaction(ctx.factory) as session:
            revoke_token(session, _user(session, username), token_id, datetime.now(UTC))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"token {token_id} revoked")


@main.command("deploy")
@click.argument("bpmn_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--lane", "lanes", multiple=True, help="lane=role for a lane the app does not know (repeatable)")
@click.option("--group", "groups", multiple=True,
              help="group=role for a camunda:candidateGroups name (repeatable)")
@click.option("--default-role", type=click.Choice(["enterprise", "department", "town", "office"]),
              help="the role acting on tasks in no lane (a model drawn without lanes)")
@pass_context
def deploy_command(ctx: Context, bpmn_files: tuple[str, ...], lanes: tuple[str, ...], groups: tuple[str, ...],
                   default_role: str | None) -> None:
    """Validate BPMN files and store each process as its newest version (nothing stored on error).

    Several files are one bundle: processes calling each other (call activities) are deployed together."""
    from .engine import ModelError
    from .services.model_registry import prepare_bundle, store

    mapping = dict(lane.split("=", 1) for lane in (*lanes, *groups) if "=" in lane)
    if len(mapping) != len(lanes) + len(groups):
        raise click.BadParameter("give lanes and groups as name=role", param_hint="--lane/--group")
    limit = ctx.settings.max_model_bytes
    files = []
    for path in map(Path, bpmn_files):
        if path.stat().st_size > limit:
            click.echo(f"FAIL  {path.name}: {path.stat().st_size:,} bytes, more than the {limit:,} allowed "
                       "(WORKFLOW_APP_MAX_MODEL_BYTES)", err=True)
            sys.exit(1)
        files.append((path.name, path.read_bytes()))
    try:  # parsed before the transaction: a large model must not hold the database while it is read
        bundle = prepare_bundle(files, mapping, default_role)
    except ModelError as exc:
        click.echo(f"FAIL  {exc}", err=True)
        sys.exit(1)
    for warning in dict.fromkeys(w for prepared in bundle for w in prepared.model.warnings):
        click.echo(f"WARN  {warning}", err=True)
    with transaction(ctx.factory) as session:
        for prepared in bundle:
            version = store(session, prepared, datetime.now(UTC))
            click.echo(f"{version.process_id} v{version.version} deployed ({version.name}, {version.sha256[:12]})")


@main.group("models")
def models_group() -> None:
    """Deployed process models and their versions."""


@models_group.command("list")
@pass_context
def models_list(ctx: Context) -> None:
    """Every version of every model, with how many instances run on it."""
    from .services.model_registry import versions_with_counts

    with transaction(ctx.factory) as session:
        for version, running, total in versions_with_counts(session):
            click.echo(f"{version.process_id:<22} v{version.version:<3} {version.file_name:<32} "
                       f"{running:>6} running / {total:>6} instances  deployed {version.deployed_at.isoformat()}")


@models_group.command("show")
@click.argument("process_id")
@click.option("--version", "number", type=int, help="a version number (default: the newest)")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, writable=True), help="write its diagram here")
@pass_context
def models_show(ctx: Context, process_id: str, number: int | None, svg_path: str | None) -> None:
    """One version: its tasks, lanes and forms, and optionally its diagram as SVG."""
    from .diagram import render_svg
    from .services.model_registry import find_version, process_model

    try:
        with transaction(ctx.factory) as session:
            version = find_version(session, process_id, number)
            model = process_model(version)
            xml = version.xml
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{version.process_id} v{version.version}: {version.name} ({version.file_name})")
    for bpmn_id, lane in sorted(model.user_task_lanes().items()):
        form = model.forms[bpmn_id]
        generic = " (generic: the model declares no form)" if form.key == "generic" else ""
        click.echo(f"  {bpmn_id:<28} lane {lane:<8} fields: {', '.join(form.field_ids())}{generic}")
    if svg_path:
        with open(svg_path, "w", encoding="utf-8") as out:
            out.write(render_svg(xml))
        click.echo(f"diagram written to {svg_path}")


@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@click.option("--checkpoints", "checkpoint_dir", type=click.Path(file_okay=False, path_type=Path),
              help="the folder of audit checkpoints the log must still extend (default: where `checkpoint` writes)")
@pass_context
def audit_verify(ctx: Context, checkpoint_dir: Path | None) -> None:
    """Recompute the hash chain, check it still extends every checkpoint and every evidence file is intact;
    exit 1 naming each edited or deleted row, broken checkpoint and missing or altered file."""
    from .services.audit_checkpoints import problems_with
    from .services.evidence_integrity import evidence_problems

    folder = checkpoint_dir or ctx.settings.checkpoint_dir
    with transaction(ctx.factory) as session:
        found = [f"audit row {p.entry_id if p.entry_id is not None else '-'}: {p.message}"
                 for p in audit.verify_chain(session)]
        found += [f"checkpoint {problem}" for problem in problems_with(session, folder)]
        found += [p.message for p in evidence_problems(session, EvidenceStore(Path(ctx.settings.instance_dir)
                                                                               / "evidence"))]
        unkeyed = audit.unkeyed_rows(session)
    for line in found:
        click.echo(line)
    if unkeyed:
        click.echo(f"note: {unkeyed} audit rows are plain SHA-256 (written without WORKFLOW_APP_AUDIT_KEY)")
    if found:
        sys.exit(1)
    click.echo("audit log intact and extends every checkpoint; every evidence file present and unaltered")


@audit_group.command("checkpoint")
@pass_context
def audit_checkpoint(ctx: Context) -> None:
    """Write the log's head outside the database (and to the office by e-mail/webhook); the scheduler does
    this daily."""
    from .services.audit_checkpoints import write

    with transaction(ctx.factory) as session:
        checkpoint, path = write(session, ctx.settings.checkpoint_dir, datetime.now(UTC))
    click.echo(f"checkpoint: row {checkpoint.last_id} ({checkpoint.count} rows) {checkpoint.head_hash} → {path}")


@main.command("backup")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="a new (or empty) folder for this backup")
@pass_context
def backup_command(ctx: Context, out: Path) -> None:
    """A consistent snapshot of the database and the evidence files, with a manifest of hashes."""
    from .services.backup import BackupError, backup

    try:
        summary = backup(ctx.engine, Path(ctx.settings.instance_dir) / "evidence", out, datetime.now(UTC),
                         progress=click.echo)
    except BackupError as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"schema {summary.schema_revision}, {summary.evidence_files} evidence files, "
               f"{summary.total_bytes / 1e6:.1f} MB in {summary.folder}")


@main.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_context
def restore_command(ctx: Context, folder: Path) -> None:
    """Restore a backup into an empty database and instance folder, then migrate it to this version."""
    from .services.backup import BackupError, restore

    try:
        summary = restore(ctx.engine, Path(ctx.settings.instance_dir) / "evidence", folder, progress=click.echo)
    except BackupError as refused:
        raise click.ClickException(str(refused)) from None
    init_db(ctx.engine, ctx.factory, ctx.settings.bpmn_dir, datetime.now(UTC))
    click.echo(f"restored the backup of schema {summary.schema_revision}; database now at the current schema")


@main.group("hazard")
def hazard_group() -> None:
    """Report and list hazards."""


@hazard_group.command("report")
@click.option("--user", "username", required=True, help="act as this user")
@click.option("--enterprise", "enterprise_code", required=True, help="enterprise code, e.g. E001")
@click.option("--item", "item_names", multiple=True, metavar="'CODE NUMBER'",
              help="a standard item it matches, e.g. 'GM-2023 第十一条(三)' (repeatable; makes it major)")
@field_option
@json_option
@now_option
@pass_context
def hazard_report(ctx: Context, username: str, enterprise_code: str, item_names: tuple[str, ...],
                  fields: tuple[str, ...], json_text: str | None, now_text: str | None) -> None:
    """Report a hazard of an enterprise (fields of the model's start form)."""
    try:
        with transaction(ctx.factory) as session:
            enterprise = session.scalar(select(Organisation).where(Organisation.code == enterprise_code))
            if enterprise is None:
                raise click.ClickException(f"no enterprise {enterprise_code!r}")
            reported = hazards.report_hazard(session, _user(session, username), enterprise.id,
                                             _fields(fields, json_text), _now(now_text),
                                             judged_item_ids=[_item_id(session, name) for name in item_names])
    except (ServiceError, FormValidationError) as exc:
        _fail(exc)
    click.echo(f"{reported.code} id={reported.hazard_id} status={reported.status}")


def _item_id(session: Session, name: str) -> int:
    """The id of a standard item named 'CODE NUMBER' (the standard's code, the item's number)."""
    code, _, number = name.strip().partition(" ")
    item_id = session.scalar(select(StandardItem.id).join(Standard).where(Standard.code == code,
                                                                         StandardItem.number == number.strip()))
    if item_id is None:
        raise click.ClickException(f"no standard item {name!r} (give the standard's code and the item's number)")
    return item_id


@hazard_group.command("list")
@click.option("--user", "username", required=True, help="list as this user sees")
@pass_context
def hazard_list(ctx: Context, username: str) -> None:
    """Hazards the user may see, newest first."""
    with transaction(ctx.factory) as session:
        for h in hazards.list_hazards(session, _user(session, username)):
            click.echo(f"{h.code}  {h.level:<7} {h.status:<14} {h.enterprise.name}  {h.title}")


@main.group("task")
def task_group() -> None:
    """List and complete inbox tasks."""


@task_group.command("list")
@click.option("--user", "username", required=True, help="list this user's inbox")
@pass_context
def task_list(ctx: Context, username: str) -> None:
    """Open tasks the user may act on, earliest due first."""
    with transaction(ctx.factory) as session:
        for task in tasks.open_tasks(session, _user(session, username)):
            due = task.due_on.isoformat() if task.due_on else "-"
            about = f"hazard={task.hazard_id}" if task.hazard_id else f"case={task.case_id}" if task.case_id else ""
            click.echo(f"{task.task_id}  {task.name:<12} {about} due={due}")


@task_group.command("complete")
@click.argument("task_id")
@click.option("--user", "username", required=True, help="act as this user")
@field_option
@json_option
@click.option("--file", "files", multiple=True, help="a photo for a file field as name=path (repeatable)")
@now_option
@pass_context
def task_complete(ctx: Context, task_id: str, username: str, fields: tuple[str, ...], json_text: str | None,
                  files: tuple[str, ...], now_text: str | None) -> None:
    """Complete a task with its form's fields (and photos for its file fields)."""
    from .services.evidence import Uploads, check_photo

    photos: dict[str, list[Any]] = {}
    for pair in files:
        field_id, sep, path = pair.partition("=")
        if not sep or not Path(path).is_file():
            raise click.BadParameter(f"expected name=path of a file, got {pair!r}", param_hint="--file")
        try:
            photos.setdefault(field_id, []).append(check_photo(Path(path).read_bytes(), Path(path).name))
        except ServiceError as exc:
            _fail(exc)
    uploads = Uploads(EvidenceStore(Path(ctx.settings.instance_dir) / "evidence"), photos) if photos else None
    try:
        with transaction(ctx.factory) as session:
            task = tasks.complete_task(session, _user(session, username), task_id, _fields(fields, json_text),
                                       _now(now_text), uploads)
            name = task.name
    except (ServiceError, FormValidationError) as exc:
        _fail(exc)
    click.echo(f"completed: {name}")


@main.group("case")
def case_group() -> None:
    """Cases: runs of deployed models other than hazards, campaigns and duties (e.g. special-operation permits)."""


@case_group.command("start")
@click.argument("process_id")
@click.option("--user", "username", required=True, help="act as this user")
@click.option("--enterprise", "enterprise_code", help="the enterprise's code (default: the user's own)")
@click.option("--title", default="", help="a title when the start form has none")
@field_option
@json_option
@now_option
@pass_context
def case_start(ctx: Context, process_id: str, username: str, enterprise_code: str | None, title: str,
               fields: tuple[str, ...], json_text: str | None, now_text: str | None) -> None:
    """Start the newest version of a model for an enterprise, with its start form's fields."""
    from .services.cases import start_case

    try:
        with transaction(ctx.factory) as session:
            enterprise_id = None
            if enterprise_code:
                enterprise_id = session.scalar(select(Organisation.id).where(Organisation.code == enterprise_code))
                if enterprise_id is None:
                    raise click.ClickException(f"no organisation {enterprise_code!r}")
            case = start_case(session, _user(session, username), process_id, _fields(fields, json_text),
                              _now(now_text), enterprise_id, title)
            click.echo(f"{case.code} started (case {case.id})")
    except (ServiceError, FormValidationError) as exc:
        _fail(exc)


@main.group("incidents")
def incidents_group() -> None:
    """Instances stopped at a failed script, service task or gateway."""


@incidents_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="resolved ones too")
@pass_context
def incidents_list(ctx: Context, show_all: bool) -> None:
    """Open incidents (oldest first) with their error."""
    from .services.incidents import list_incidents

    with transaction(ctx.factory) as session:
        office = session.scalar(select(User).where(User.role == "office").limit(1))
        if office is None:
            raise click.ClickException("no office user")
        for incident in list_incidents(session, office, open_only=not show_all):
            state = incident.resolution or "open"
            click.echo(f"{incident.id:>5}  {state:<8} instance {incident.instance_id:<6} {incident.bpmn_id:<24} "
                       f"{incident.occurred_at.isoformat()}  {incident.error}")


@incidents_group.command("retry")
@click.argument("incident_id", type=int)
@click.option("--user", "username", required=True, help="act as this (office) user")
@click.option("--json", "json_text", help="corrections merged into the failed task's data, as a JSON object")
@now_option
@pass_context
def incidents_retry(ctx: Context, incident_id: int, username: str, json_text: str | None,
                    now_text: str | None) -> None:
    """Run the failed task again after merging the corrections into its data."""
    from .services.incidents import retry

    try:
        corrections = json.loads(json_text) if json_text else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--json") from None
    if not isinstance(corrections, dict):
        raise click.BadParameter("give a JSON object", param_hint="--json")
    try:
        with transaction(ctx.factory) as session:
            retry(session, _user(session, username), incident_id, corrections, _now(now_text))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"incident {incident_id} retried")


@incidents_group.command("skip")
@click.argument("incident_id", type=int)
@click.option("--user", "username", required=True, help="act as this (office) user")
@click.option("--reason", required=True, help="why the step may be skipped (kept in the audit log)")
@now_option
@pass_context
def incidents_skip(ctx: Context, incident_id: int, username: str, reason: str, now_text: str | None) -> None:
    """Mark a failed script or service task done without running it."""
    from .services.incidents import skip

    try:
        with transaction(ctx.factory) as session:
            skip(session, _user(session, username), incident_id, reason, _now(now_text))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"incident {incident_id} skipped")


@main.group("spot-check")
def spot_check_group() -> None:
    """Spot-checks of closures (抽检销号)."""


@spot_check_group.command("draw")
@click.option("--user", "username", required=True, help="act as this (office) user")
@click.option("--month", required=True, help="the month whose closures are sampled (YYYY-MM)")
@click.option("--rate", type=float, default=None, help="share of the closures to draw (default 0.1, at least one)")
@click.option("--seed", type=int, default=None, help="the random seed (default: random, and recorded)")
@now_option
@pass_context
def spot_check_draw(ctx: Context, username: str, month: str, rate: float | None, seed: int | None,
                    now_text: str | None) -> None:
    """Draw a month's closed hazards for re-verification and print the sample."""
    from .services import spot_checks

    try:
        with transaction(ctx.factory) as session:
            check = spot_checks.draw(session, _user(session, username), month, _now(now_text),
                                     rate if rate is not None else spot_checks.DEFAULT_RATE, seed)
            codes = [code for (code,) in session.execute(
                select(Hazard.code).join(SpotCheckItem, SpotCheckItem.hazard_id == Hazard.id)
                .where(SpotCheckItem.spot_check_id == check.id).order_by(Hazard.id))]
            click.echo(f"{month}: {len(codes)} of {len(check.population)} closures drawn (seed {check.seed})")
    except ServiceError as exc:
        _fail(exc)
    for code in codes:
        click.echo(f"  {code}")


@spot_check_group.command("verify")
@click.argument("month")
@pass_context
def spot_check_verify(ctx: Context, month: str) -> None:
    """Draw again from the recorded population and seed; exit 1 unless it gives the recorded sample."""
    from .services import spot_checks

    with transaction(ctx.factory) as session:
        check = session.scalar(select(SpotCheck).where(SpotCheck.month == month))
        if check is None:
            raise click.ClickException(f"no spot-check for {month}")
        same = spot_checks.redraw_matches(session, check)
    click.echo("reproducible: the recorded seed gives the recorded sample" if same else "MISMATCH")
    sys.exit(0 if same else 1)


@main.group("standards")
def standards_group() -> None:
    """Major-hazard judgement standards and key inspection items (对标对表)."""


@standards_group.command("import")
@click.argument("list_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", required=True, help="act as this user (office; departments: key items)")
@now_option
@pass_context
def standards_import(ctx: Context, list_file: str, username: str, now_text: str | None) -> None:
    """Import a CSV or XLSX item list; every wrong row is named and nothing is imported on error."""
    from .services import standards

    path = Path(list_file)
    try:
        with transaction(ctx.factory) as session:
            result = standards.import_rows(session, _user(session, username),
                                           standards.read_table(path.read_bytes(), path.name), _now(now_text))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"imported {result.items} items of {', '.join(result.standards)}")


@standards_group.command("export")
@click.argument("out_file", type=click.Path(dir_okay=False, writable=True))
@pass_context
def standards_export(ctx: Context, out_file: str) -> None:
    """Write every standard's items in the import format (.csv or .xlsx by the file's name)."""
    from .reports.csv_file import csv_bytes
    from .reports.xlsx import sheet_bytes
    from .services import standards

    with transaction(ctx.factory) as session:
        rows = standards.export_rows(session)
    content = sheet_bytes(rows, "standards") if out_file.lower().endswith(".xlsx") else csv_bytes(rows)
    Path(out_file).write_bytes(content)
    click.echo(f"{len(rows) - 1} items written to {out_file}")


def _add_command_groups() -> None:
    """Command groups kept in modules of their own (they import this one's helpers, so they come last)."""
    from .cli_holidays import holidays_group
    from .cli_roster import org_group

    main.add_command(org_group)
    main.add_command(holidays_group)


_add_command_groups()
