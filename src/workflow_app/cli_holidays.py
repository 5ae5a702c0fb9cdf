"""`workflow-app holidays …`: the holiday table (节假日) from the command line: import a year's notice, list."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from .cli import Context, _fail, _now, _user, now_option, pass_context
from .engine.calendar import SHANGHAI
from .services import holidays
from .services.errors import ServiceError
from .services.holiday_csv import EARLIEST_YEAR, KIND_LABELS, LATEST_YEAR, MAX_BYTES, read_rows
from .store.database import transaction


@click.group("holidays")
def holidays_group() -> None:
    """Holidays and adjusted working days (节假日安排), from the State Council's yearly notice."""


@holidays_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", required=True, help="act as this office (安委办) user")
@now_option
@pass_context
def holidays_import(ctx: Context, csv_file: str, username: str, now_text: str | None) -> None:
    """Import a CSV (日期,类型,名称): the years in it are replaced whole; any wrong row and nothing is written."""
    path = Path(csv_file)
    if path.stat().st_size > MAX_BYTES:
        raise click.ClickException(f"{path.name}: larger than {MAX_BYTES // 1024} KB")
    try:
        with transaction(ctx.factory) as session:
            user = _user(session, username)
            holidays.require_office(user)
            summary = holidays.import_rows(session, user, read_rows(path.read_bytes(), path.name), _now(now_text))
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"imported {', '.join(map(str, summary.years))}: {summary.holidays} days off (放假), "
               f"{summary.workdays} working weekend days (调休上班)")


@holidays_group.command("list")
@click.option("--year", type=click.IntRange(EARLIEST_YEAR, LATEST_YEAR),
              help="the days of this year (default: which years are known)")
@pass_context
def holidays_list(ctx: Context, year: int | None) -> None:
    """The years with a schedule and the years missing; with --year, that year's days."""
    this_year = datetime.now(UTC).astimezone(SHANGHAI).year
    with transaction(ctx.factory) as session:
        if year is not None:
            days = holidays.days_of(session, year)
            for day in days:
                click.echo(f"{day.day.isoformat()}  {KIND_LABELS[day.kind]:<4}  {day.name}  ({day.source})")
            if not days:
                click.echo(f"{year}: no data, counted Monday to Friday")
            return
        for known in holidays.known_years(session):
            click.echo(f"{known.year}  {known.source}  {known.imported_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}")
        missing = holidays.missing_years(session, this_year, this_year + 1)
    if missing:
        click.echo(f"missing: {', '.join(map(str, missing))} (counted Monday to Friday)")
