"""Reading a holiday CSV: the State Council's yearly notice typed up as one row per day.

Columns 日期, 类型, 名称 (a header row first; lines starting with ``#`` are comments).
类型 is 放假 (a day off: weekdays made holidays, and the weekend days of the same break may
be listed too) or 调休上班 (a Saturday or Sunday worked in exchange). The file is checked
whole: every wrong row is named with its line, and a file with any wrong row is refused.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from .errors import InvalidInputError

COLUMNS = ("日期", "类型", "名称")
KINDS = {"放假": "holiday", "调休上班": "workday"}
KIND_LABELS = {kind: label for label, kind in KINDS.items()}
MAX_BYTES = 1024 * 1024
MAX_ROWS = 5 * 366
MAX_NAME = 50
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class HolidayRow:
    """One checked row: a date, holiday or workday, and the festival it belongs to."""

    day: date
    kind: str  # holiday | workday
    name: str


def read_rows(content: bytes, file_name: str) -> list[HolidayRow]:
    """The rows of a holiday CSV (UTF-8, with or without BOM); InvalidInputError naming every wrong row."""
    if len(content) > MAX_BYTES:
        raise InvalidInputError(f"{file_name}：文件过大（最多 {MAX_BYTES // 1024} KB）")
    try:
        text = content.decode("utf-8-sig")
        lines = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
                 if row and any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"{file_name}：无法读取（{type(exc).__name__}），请使用 UTF-8 编码的 CSV") from None
    if not lines or [cell.strip() for cell in lines[0][1][:3]] != list(COLUMNS):
        raise InvalidInputError(f"{file_name}：第一行应为列名：{','.join(COLUMNS)}")
    if len(lines) - 1 > MAX_ROWS:
        raise InvalidInputError(f"{file_name}：行数过多（最多 {MAX_ROWS} 行）")
    return _checked(lines[1:])


def _checked(lines: list[tuple[int, list[str]]]) -> list[HolidayRow]:
    errors: list[str] = []
    rows: dict[date, HolidayRow] = {}
    seen_on: dict[date, int] = {}
    for number, cells in lines:
        day_text, kind_text, name = ([cell.strip() for cell in cells] + ["", "", ""])[:3]
        problems, day = _problems(day_text, kind_text, name)
        if day is not None and day in seen_on:
            problems.append(f"日期 {day.isoformat()} 重复（已见于第 {seen_on[day]} 行）")
        errors.extend(f"第 {number} 行：{problem}" for problem in problems)
        if day is not None:
            seen_on.setdefault(day, number)
        if not problems and day is not None:
            rows[day] = HolidayRow(day, KINDS[kind_text], name)
    if not errors:
        errors.extend(f"{year} 年：没有放假的日子，不像一整年的安排" for year in _years_without_holidays(rows))
    if errors:
        more = f"\n…共 {len(errors)} 处" if len(errors) > 50 else ""
        raise InvalidInputError("未导入任何内容：\n" + "\n".join(errors[:50]) + more)
    if not rows:
        raise InvalidInputError("未导入任何内容：文件中没有日期行")
    return sorted(rows.values(), key=lambda row: row.day)


def _problems(day_text: str, kind_text: str, name: str) -> tuple[list[str], date | None]:
    problems: list[str] = []
    day = parse_day(day_text)
    if day is None:
        problems.append(f"日期应为 YYYY-MM-DD（{EARLIEST_YEAR}–{LATEST_YEAR} 年）：{day_text[:20] or '（空）'}")
    if kind_text not in KINDS:
        problems.append(f"类型应为 {' 或 '.join(KINDS)}：{kind_text[:20] or '（空）'}")
    elif kind_text == "调休上班" and day is not None and day.weekday() < 5:
        problems.append(f"{day.isoformat()} 是工作日，调休上班应在周六或周日")
    if not name:
        problems.append("名称不能为空（如 春节）")
    elif len(name) > MAX_NAME or _CONTROL.search(name):
        problems.append(f"名称最多 {MAX_NAME} 个字，且不能含控制字符")
    return problems, day


def parse_day(text: str) -> date | None:
    """A date written 2027-02-06, 2027/2/6 or 2027.2.6 within the years we accept; None otherwise."""
    found = _DATE.fullmatch(text)
    if found is None:
        return None
    try:
        day = date(*(int(part) for part in found.groups()))
    except ValueError:
        return None
    return day if EARLIEST_YEAR <= day.year <= LATEST_YEAR else None


def _years_without_holidays(rows: dict[date, HolidayRow]) -> list[int]:
    """Years the file names but gives no day off: a half-typed year would replace a whole one."""
    return sorted({day.year for day in rows} - {row.day.year for row in rows.values() if row.kind == "holiday"})
