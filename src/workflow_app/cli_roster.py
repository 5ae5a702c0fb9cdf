"""`workflow-app org …`: the zone's roster (组织名册) from the command line: template, import with preview, export."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from .cli import Context, _fail, _user, pass_context
from .reports.csv_file import csv_bytes
from .reports.xlsx import workbook_bytes
from .services import roster
from .services.errors import ServiceError
from .services.roster_format import MAX_BYTES
from .store.database import transaction

SHOWN = 50
"""Changes listed one by one; beyond that a count."""


@click.group("org")
def org_group() -> None:
    """The roster of towns, departments, sectors and enterprises (组织名册)."""


@org_group.command("template")
@click.argument("out_file", type=click.Path(dir_okay=False, writable=True))
def org_template(out_file: str) -> None:
    """Write the empty roster workbook (headers and one example row per sheet)."""
    Path(out_file).write_bytes(workbook_bytes(roster.template_sheets()))
    click.echo(f"template written to {out_file}")


@org_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", required=True, help="act as this office (安委办) user")
@click.option("--yes", is_flag=True, help="apply without asking")
@click.option("--dry-run", is_flag=True, help="only show what would change")
@pass_context
def org_import(ctx: Context, files: tuple[str, ...], username: str, yes: bool, dry_run: bool) -> None:
    """Check FILES (.xlsx, or .csv of one sheet) whole, show what would change, then apply it in one transaction."""
    contents = [(Path(f).name, _read(f)) for f in files]
    try:
        with transaction(ctx.factory) as session:
            shown = roster.preview(session, _user(session, username), contents)
    except ServiceError as exc:
        _fail(exc)
    _print(shown)
    if shown.problems:
        raise click.ClickException(f"{len(shown.problems)} problem(s): nothing was imported")
    if dry_run or not shown.changes or not (yes or click.confirm("应用以上变更？ Apply these changes?")):
        click.echo("nothing was imported")
        return
    try:
        with transaction(ctx.factory) as session:
            roster.import_roster(session, _user(session, username), contents, datetime.now(UTC), shown.digest,
                                 _progress)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"imported: {shown.count(True)} created, {shown.count(False)} updated")


@org_group.command("export")
@click.argument("out_file", type=click.Path(dir_okay=False, writable=True))
@click.option("--user", "username", required=True, help="act as this office (安委办) user")
@pass_context
def org_export(ctx: Context, out_file: str, username: str) -> None:
    """Write the roster: .xlsx with every sheet, or .csv with the enterprises (企业) only."""
    try:
        with transaction(ctx.factory) as session:
            sheets = roster.export_sheets(session, _user(session, username))
    except ServiceError as exc:
        _fail(exc)
    content = csv_bytes(sheets[-1][1]) if out_file.lower().endswith(".csv") else workbook_bytes(sheets)
    Path(out_file).write_bytes(content)
    click.echo(f"{len(sheets[-1][1]) - 1} enterprise(s) written to {out_file}")


def _read(path: str) -> bytes:
    if os.path.getsize(path) > MAX_BYTES:
        raise click.ClickException(f"{path}: larger than {MAX_BYTES // 1024 // 1024} MB")
    return Path(path).read_bytes()


def _print(shown: roster.Preview) -> None:
    for problem in shown.problems:
        click.echo(f"  {problem}")
    if shown.problems:
        return
    click.echo(f"{shown.count(True)} new, {shown.count(False)} changed, {shown.unchanged} unchanged "
               f"({len(shown.changes)} change(s))")
    for change in shown.changes[:SHOWN]:
        click.echo(f"  {'+' if change.new else '~'} {change.kind} {change.key} {change.name}")
        for column, before, after in [] if change.new else change.fields:
            click.echo(f"      {column}: {before or '（空）'} → {after or '（空）'}")
    if len(shown.changes) > SHOWN:
        click.echo(f"  … and {len(shown.changes) - SHOWN} more")


def _progress(what: str, done: int, total: int) -> None:
    click.echo(f"\r{what} {done}/{total}", nl=done >= total, err=True)
