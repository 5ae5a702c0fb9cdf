"""The library of major-hazard judgement standards (对标对表) and departments' key inspection items.

Standards come in editions: a new edition is a new standard that names the one it
replaces; the items of the current editions are what hazards are judged against, and a
hazard keeps the item (of its edition) it was judged against. Lists are imported and
exported as CSV or XLSX (written by reports/csv_file.py and reports/xlsx.py), one row per
item; an import is checked whole and either lands whole or not at all, with every wrong
row named. A list shipped incomplete (the seed) is completed by importing the same code
again; a row without number and text names a standard whose items are still to come.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..reports.cells import restored
from ..store.models import EnterpriseSector, Sector, Standard, StandardItem, User
from . import audit
from .errors import InvalidInputError, PermissionDeniedError

COLUMNS = ("standard_code", "kind", "title", "issuer", "doc_number", "effective_from", "sectors", "replaces",
           "complete", "number", "group", "text")
KINDS = ("standard", "key_items")
SEED = Path(__file__).resolve().parents[3] / "standards" / "seed.csv"
_SECTOR = re.compile(r"^[a-z][a-z_]*$")
_YES, _NO = {"是", "yes", "true", "1", "y", ""}, {"否", "no", "false", "0", "n"}


@dataclass(frozen=True)
class ImportResult:
    """What an import added: standards created or completed, and items added."""

    standards: list[str]
    items: int


def read_table(content: bytes, file_name: str) -> list[dict[str, str]]:
    """Rows of a CSV (UTF-8) or XLSX upload as dicts by column name; InvalidInputError if unreadable."""
    try:
        if file_name.lower().endswith(".xlsx"):
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
            rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        else:
            rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error, OSError, ValueError, KeyError) as exc:
        raise InvalidInputError(f"{file_name}: 无法读取（{type(exc).__name__}），请使用 UTF-8 CSV 或 XLSX") from None
    rows = [[restored(cell.strip()) for cell in row] for row in rows]  # our own export marks formula-like text
    if not rows or [c for c in rows[0] if c][: len(COLUMNS)] != list(COLUMNS):
        raise InvalidInputError(f"{file_name}: 第 1 行应为列名：{','.join(COLUMNS)}")
    return [dict(zip(COLUMNS, row + [""] * len(COLUMNS), strict=False)) for row in rows[1:] if any(row)]


def import_rows(session: Session, actor: User | None, rows: list[dict[str, str]], now: datetime) -> ImportResult:
    """Check every row, then add them all (or nothing: InvalidInputError naming each wrong row, line 1 = header)."""
    if actor is not None and actor.role not in ("office", "department"):
        raise PermissionDeniedError("判定标准由安委办维护，重点检查事项由监管部门维护")
    existing = {s.code: s for s in session.scalars(select(Standard))}
    heads, items = _checked(rows, existing, actor)
    known_items = {(item.standard_id, item.number) for item in session.scalars(select(StandardItem))}
    added = 0
    for code, head in heads.items():
        standard = existing.get(code)
        replaces = head.pop("replaces")
        if standard is None:
            standard = Standard(code=code, imported_at=now, **head,
                                replaces_id=existing[replaces].id if replaces else None)
            session.add(standard)
            session.flush()
            existing[code] = standard
        else:
            standard.complete = head["complete"]
        fresh = [StandardItem(standard_id=standard.id, number=number, group=group, text=text)
                 for number, group, text in items.get(code, []) if (standard.id, number) not in known_items]
        session.add_all(fresh)
        added += len(fresh)
    session.flush()
    codes = ",".join(heads)  # the audit's object id holds 60 characters; the detail lists every code
    audit.record(session, actor, "import_standards", "standards", codes if len(codes) <= 60 else
                 f"{codes[:50]}…({len(heads)})", {"standards": list(heads), "items": added}, now)
    return ImportResult(list(heads), added)


def _checked(rows: list[dict[str, str]], existing: dict[str, Standard], actor: User | None,
             ) -> tuple[dict[str, dict[str, Any]], dict[str, list[tuple[str, str, str]]]]:
    """Standard fields and items by code, in file order; InvalidInputError naming every wrong row."""
    errors: list[str] = []
    heads: dict[str, dict[str, Any]] = {}
    items: dict[str, list[tuple[str, str, str]]] = {}
    for line, row in enumerate(rows, start=2):
        code = row["standard_code"]
        problems = _row_problems(row, existing, heads, actor)
        if not problems and heads.setdefault(code, _head(row)) != _head(row):
            problems.append("同一标准的标题、发布机关、文号、日期、行业等须各行一致")
        if not problems and row["number"] and any(number == row["number"] for number, _, _ in items.get(code, [])):
            problems.append(f"条款号 {row['number']} 重复")
        errors.extend(f"第 {line} 行：{p}" for p in problems)
        if not problems and row["number"]:
            items.setdefault(code, []).append((row["number"], row["group"], row["text"]))
    if errors:
        more = f"\n…共 {len(errors)} 处" if len(errors) > 50 else ""
        raise InvalidInputError("未导入任何内容：\n" + "\n".join(errors[:50]) + more)
    return heads, items


def _row_problems(row: dict[str, str], existing: dict[str, Standard], heads: dict[str, Any],
                  actor: User | None) -> list[str]:
    listed_only = not row["number"] and not row["text"]  # a standard known by name, its items still to import
    required = ("standard_code", "title", "issuer", "doc_number", "effective_from", "sectors",
                *(() if listed_only else ("number", "text")))
    problems = [f"{column} 不能为空" for column in required if not row[column]]
    if listed_only and row["complete"].lower() not in _NO:
        problems.append("没有条款的标准须标为不完整（complete 为 否）")
    if row["kind"] and row["kind"] not in KINDS:
        problems.append(f"kind 应为 {' 或 '.join(KINDS)}")
    if actor is not None and actor.role == "department" and (row["kind"] or "standard") != "key_items":
        problems.append("部门只能导入重点检查事项（kind=key_items）")
    if row["effective_from"]:
        try:
            date.fromisoformat(row["effective_from"][:10])
        except ValueError:
            problems.append(f"生效日期应为 YYYY-MM-DD：{row['effective_from']}")
    bad = [s for s in _sectors(row["sectors"]) if not _SECTOR.match(s)]
    if bad:
        problems.append(f"行业代码无效：{'、'.join(bad)}")
    if row["complete"].lower() not in _YES | _NO:
        problems.append("complete 应为 是 或 否")
    if row["replaces"] and row["replaces"] not in existing and row["replaces"] not in heads:
        problems.append(f"被替代的标准 {row['replaces']} 不存在")
    standard = existing.get(row["standard_code"])
    if standard is not None and standard.complete:
        problems.append(f"标准 {standard.code} 已导入；新版本请使用新的标准编号并在 replaces 中注明旧编号")
    return problems


def _sectors(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"[,，、;；\s]+", text) if s.strip()]


def _head(row: dict[str, str]) -> dict[str, Any]:
    return {"kind": row["kind"] or "standard", "title": row["title"], "issuer": row["issuer"],
            "doc_number": row["doc_number"], "effective_from": date.fromisoformat(row["effective_from"][:10]),
            "sectors": _sectors(row["sectors"]), "replaces": row["replaces"],
            "complete": row["complete"].lower() in _YES}


def export_rows(session: Session) -> list[list[Any]]:
    """Every item of every standard, in the import format (header first)."""
    codes = {s.id: s.code for s in session.scalars(select(Standard))}
    rows: list[list[Any]] = [list(COLUMNS)]
    for item in session.scalars(select(StandardItem).order_by(StandardItem.standard_id, StandardItem.id)):
        s = item.standard
        rows.append([s.code, s.kind, s.title, s.issuer, s.doc_number, s.effective_from.isoformat(),
                     ",".join(s.sectors), codes.get(s.replaces_id, "") if s.replaces_id else "",
                     "是" if s.complete else "否", item.number, item.group, item.text])
    return rows


def current_standards(session: Session, sector: str | None, today: date) -> list[Standard]:
    """The editions in force today for a sector: effective, and not replaced by a newer edition in force."""
    if not sector:
        return []
    replaced = {s.replaces_id for s in session.scalars(select(Standard).where(Standard.effective_from <= today))
                if s.replaces_id}
    return [s for s in session.scalars(select(Standard).where(Standard.effective_from <= today).order_by(Standard.code))
            if sector in s.sectors and s.id not in replaced]


def applicable_items(session: Session, sector: str | None, today: date) -> list[StandardItem]:
    """The items a hazard of an enterprise in `sector` may be judged against today."""
    ids = [s.id for s in current_standards(session, sector, today)]
    if not ids:
        return []
    return list(session.scalars(select(StandardItem).where(StandardItem.standard_id.in_(ids))
                                .order_by(StandardItem.standard_id, StandardItem.id)))


def enterprise_items(session: Session, enterprise_ids: Sequence[int], today: date) -> list[StandardItem]:
    """The items a hazard of any of these enterprises may be judged against today: those of the standards
    in force for any of their sectors (an enterprise may work in several)."""
    sectors = session.scalars(select(EnterpriseSector.sector_code).distinct()
                              .where(EnterpriseSector.enterprise_id.in_(enterprise_ids)))
    found: dict[int, StandardItem] = {}
    for sector in sorted(sectors):
        found.update((item.id, item) for item in applicable_items(session, sector, today))
    return list(found.values())


def seed(session: Session, now: datetime) -> None:
    """Load the shipped (incomplete) standards once, on a database that has none."""
    if session.scalar(select(Standard.id).limit(1)) is None and SEED.exists():
        import_rows(session, None, read_table(SEED.read_bytes(), SEED.name), now)


def sector_names(session: Session) -> dict[str, str]:
    """Sector code → name: pages name a standard's sectors, never show their codes."""
    return {code: name for code, name in session.execute(select(Sector.code, Sector.name))}
