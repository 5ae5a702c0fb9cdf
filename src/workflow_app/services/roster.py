"""The zone's roster (组织名册): towns, departments, sectors and enterprises imported from files the office
keeps in a spreadsheet, previewed before they are applied, and exported in the same format.

`preview` reads the files (roster_format.py), checks them whole against the database
(roster_check.py) and lists what would change: new organisations, and for each updated one
every changed field before → after. Nothing is written. `import_roster` makes the same
preview inside its own transaction and applies it, all or nothing; given the digest of the
preview a person saw, it refuses (ConflictError) when the preview it would apply differs,
because the files or the database changed meanwhile: what is applied is what was shown.

Enterprises are matched by credit code (an enterprise stored without one, by its 编号), towns,
departments and sectors by code; organisations absent from the files are left alone (closing
one goes through its 状态). Only the office imports and exports. Writes go in batches of Core
statements, so a zone's 5,000 enterprises import in seconds (bench/admin.py); an updated
enterprise is written only if its version is still the one compared (a concurrent edit of its
profile is refused, not overwritten). Each organisation created or changed gets an audit
entry with the changed fields before and after, and the import one entry of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from ..store.models import User
from . import audit, roster_known
from .errors import ConflictError, InvalidInputError, PermissionDeniedError
from .roster_check import Checked, check
from .roster_format import DEPARTMENTS, ENTERPRISES, FORMATS, SECTORS, TEMPLATE_ROWS, TOWNS, Problem, read_file
from .roster_write import write

Progress = Callable[[str, int, int], None]
"""Told (what, done, total) as a long import goes on: the command line shows a counter."""
NAME_COLUMNS = {"town": "镇街名称", "department": "部门名称", "sector": "行业领域名称", "enterprise": "企业名称"}


@dataclass(frozen=True)
class Change:
    """One organisation or sector the roster creates (`new`) or changes: each changed field before → after."""

    kind: str
    key: str
    name: str
    new: bool
    fields: tuple[tuple[str, str, str], ...]


@dataclass
class Preview:
    """What applying the files would do; nothing is written when `problems` is not empty."""

    files: list[tuple[str, str]]  # (name, sha256)
    problems: list[Problem]
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    checked: Checked | None = None
    known: roster_known.Known | None = None

    @property
    def digest(self) -> str:
        """What the preview shows, as a hash: an import applies it only if it would apply the same."""
        shown = [self.files, [[c.kind, c.key, c.new, c.fields] for c in self.changes], self.unchanged]
        return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()

    def count(self, new: bool) -> int:
        return sum(1 for c in self.changes if c.new == new)


def require_office(actor: User | None) -> None:
    """Only the office (or the command line acting as the system, `actor` None) keeps the roster."""
    if actor is not None and actor.role != "office":
        raise PermissionDeniedError("只有安委办可以导入和导出组织名册")


def preview(session: Session, actor: User | None, files: list[tuple[str, bytes]]) -> Preview:
    """Read and check `files` ((name, content) each) and compare them with the database; writes nothing."""
    require_office(actor)
    if not files:
        raise InvalidInputError("请选择名册文件（XLSX 或 CSV）")
    read = [read_file(content, name) for name, content in files]
    result = Preview([(name, hashlib.sha256(content).hexdigest()) for name, content in files],
                     [p for f in read for p in f.problems])
    sheets = [sheet for f in read for sheet in f.sheets]
    if not sheets and not result.problems:
        result.problems.append(Problem(files[0][0], 1, "", "文件中没有镇街、监管部门、行业领域或企业表"))
    known = roster_known.load(session)
    checked = check(sheets, known)
    result.problems += checked.problems
    if not result.problems:
        result.checked, result.known = checked, known
        result.changes, result.unchanged = _compare(checked, known)
    return result


def _compare(checked: Checked, known: roster_known.Known) -> tuple[list[Change], int]:
    changes: list[Change] = []
    unchanged = 0
    for fmt in FORMATS:
        for key, after in checked.records[fmt.kind].items():
            before = _before(fmt.kind, key, after, known)
            fields = tuple((c, (before or {}).get(c, ""), after.get(c, "")) for c in fmt.columns
                           if (before or {}).get(c, "") != after.get(c, ""))
            if before is not None and not fields:
                unchanged += 1
            else:
                changes.append(Change(fmt.kind, key, after[NAME_COLUMNS[fmt.kind]], before is None, fields))
    return changes, unchanged


def _before(kind: str, key: str, after: dict[str, str], known: roster_known.Known) -> dict[str, str] | None:
    """The stored record `after` would replace, None for a new one."""
    if kind == "enterprise":
        existing = known.enterprise(key, after["编号"])
        return existing.record if existing else None
    if kind == "sector":
        return known.sectors.get(key)
    fmt = TOWNS if kind == "town" else DEPARTMENTS
    name = known.names[kind].get(key)
    return None if name is None else {fmt.columns[0]: key, fmt.columns[1]: name}


def import_roster(session: Session, actor: User | None, files: list[tuple[str, bytes]], now: datetime,
                  expected_digest: str | None = None, progress: Progress | None = None) -> Preview:
    """Apply `files` in the caller's transaction, all or nothing; InvalidInputError naming every problem,
    ConflictError if `expected_digest` is not the digest of what would be applied now."""
    shown = preview(session, actor, files)
    if shown.problems:
        listed = "\n".join(str(p) for p in shown.problems[:50])
        more = f"\n…共 {len(shown.problems)} 处" if len(shown.problems) > 50 else ""
        raise InvalidInputError("未导入任何内容：\n" + listed + more)
    if expected_digest is not None and shown.digest != expected_digest:
        raise ConflictError("预览之后名册或数据库已有变化，未导入任何内容；请重新预览后再确认")
    assert shown.checked is not None and shown.known is not None
    entries = write(session, actor, shown.changes, shown.checked, shown.known, now, progress)
    entries.append(("import_roster", "roster", shown.digest[:32], {
        "files": [{"name": name, "sha256": sha} for name, sha in shown.files],
        "created": shown.count(True), "updated": shown.count(False), "unchanged": shown.unchanged}))
    audit.record_many(session, actor, entries, now)
    return shown


def export_sheets(session: Session, actor: User | None) -> list[tuple[str, list[list[str]]]]:
    """Every town, department, sector and enterprise as the roster's sheets (headers first), for the office."""
    require_office(actor)
    known = roster_known.load(session)
    towns = [[code, name] for code, name in sorted(known.names["town"].items())]
    departments = [[code, name] for code, name in sorted(known.names["department"].items())]
    sectors = [[r[c] for c in SECTORS.columns] for _, r in sorted(known.sectors.items())]
    records = [e.record for e in [*known.enterprises.values(), *known.uncoded.values()]]
    enterprises = [[r[c] for c in ENTERPRISES.columns] for r in sorted(records, key=lambda r: r["编号"])]
    return [(fmt.title, [list(fmt.columns), *rows])
            for fmt, rows in zip(FORMATS, (towns, departments, sectors, enterprises), strict=True)]


def template_sheets() -> list[tuple[str, list[list[str]]]]:
    """The empty roster: each sheet's headers and one example row."""
    return [(fmt.title, [list(fmt.columns), TEMPLATE_ROWS[fmt.kind]]) for fmt in FORMATS]

