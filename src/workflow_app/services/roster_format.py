"""The roster's file format (组织名册): four kinds of sheet with Chinese headers, read from XLSX or CSV.

A roster is an XLSX workbook with up to four sheets (镇街, 监管部门, 行业领域, 企业) or a CSV
file (UTF-8, with or without a BOM) holding one of them. Every sheet is recognised by its
header row, never by its name, so the headers of the kinds differ (镇街编号 / 部门编号 /
行业领域编号). Cells are read as text: a formula is its text, never evaluated (reports/xlsx_read.py),
and the `'` our exports put before formula-like text comes off again.

Limits keep a hostile upload cheap: a file of at most MAX_BYTES, an XLSX whose parts unpack
to at most MAX_UNPACKED bytes, at most MAX_ROWS rows and MAX_COLUMNS columns per sheet.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from ..reports import xlsx_read
from ..reports.cells import restored
from .errors import InvalidInputError

MAX_BYTES = 10 * 1024 * 1024
MAX_UNPACKED = 20 * MAX_BYTES
MAX_ROWS = 20_000
MAX_COLUMNS = 40


@dataclass(frozen=True)
class SheetFormat:
    """One kind of sheet: its name, the CSV file it ships as, its columns and those that must be filled."""

    kind: str  # town | department | sector | enterprise
    title: str
    file_name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]


TOWNS = SheetFormat("town", "镇街", "towns.csv", ("镇街编号", "镇街名称"), ("镇街编号", "镇街名称"))
DEPARTMENTS = SheetFormat("department", "监管部门", "departments.csv", ("部门编号", "部门名称"),
                          ("部门编号", "部门名称"))
SECTORS = SheetFormat("sector", "行业领域", "sectors.csv", ("行业领域编号", "行业领域名称", "高危行业", "主管部门"),
                      ("行业领域编号", "行业领域名称", "主管部门"))
ENTERPRISES = SheetFormat(
    "enterprise", "企业", "enterprises.csv",
    ("统一社会信用代码", "企业名称", "编号", "地址", "镇街", "行业领域", "牵头监管部门", "其他监管部门", "高危企业",
     "重大危险源", "风险等级", "主要负责人", "主要负责人电话", "安全管理员", "安全管理员电话", "经度", "纬度", "状态"),
    ("统一社会信用代码", "企业名称", "镇街", "行业领域"))
COLOURS = {"红": "red", "橙": "orange", "黄": "yellow", "蓝": "blue"}
STATUSES = {"在营": "active", "停业关闭": "closed", "已合并": "merged"}
"""The risk colours and states as written in a roster → as stored."""
FORMATS = (TOWNS, DEPARTMENTS, SECTORS, ENTERPRISES)
"""In the order a roster is applied: what a later sheet names comes earlier."""

TEMPLATE_ROWS = {
    "town": ["T01", "东湖街道"],
    "department": ["D-EM", "开发区应急管理分局"],
    "sector": ["hazchem", "危险化学品", "是", "D-EM"],
    "enterprise": ["91330100MA2B3C4D5N", "示例化工有限公司", "E001", "东湖街道示范路1号", "T01", "hazchem",
                   "D-EM", "", "是", "否", "橙", "张三", "13800000000", "李四", "13900000000", "120.123456",
                   "30.123456", "在营"],
}
"""One example row per sheet in the template (an invented, valid credit code)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a roster, where the user finds it in the spreadsheet (row 1 = the headers)."""

    source: str  # the file, and the sheet of a workbook
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" + (f"「{self.column}」" if self.column else "")
        return f"{self.source} {where}：{self.message}"


@dataclass
class Sheet:
    """The rows of one sheet: (row number as the spreadsheet shows it, {column: text}) for the columns present."""

    format: SheetFormat
    source: str
    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


@dataclass
class RosterFile:
    """What one uploaded file holds: its recognised sheets and what is wrong with its layout."""

    name: str
    sheets: list[Sheet]
    problems: list[Problem]


def read_file(content: bytes, file_name: str) -> RosterFile:
    """The sheets of an XLSX or CSV roster; InvalidInputError if the file cannot be read at all."""
    if len(content) > MAX_BYTES:
        raise InvalidInputError(f"{file_name}：文件超过 {MAX_BYTES // 1024 // 1024} MB，请拆分后导入")
    if file_name.lower().endswith(".xlsx"):
        tables = _xlsx_tables(content, file_name)
    elif file_name.lower().endswith(".csv"):
        tables = [(file_name, _csv_rows(content, file_name))]
    else:
        raise InvalidInputError(f"{file_name}：只能导入 .xlsx 或 .csv 文件")
    result = RosterFile(file_name, [], [])
    for source, rows in tables:
        _recognise(result, source, rows)
    return result


def _xlsx_tables(content: bytes, file_name: str) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED:
                raise InvalidInputError(f"{file_name}：文件解压后过大，请拆分后导入")
            strings = xlsx_read.shared_strings(archive)
            return [(f"{file_name}「{name}」", _limited(file_name, xlsx_read.rows(archive.open(part), strings,
                                                                                     MAX_COLUMNS)))
                    for name, part in xlsx_read.sheets(archive)]
    except (zipfile.BadZipFile, ParseError, OSError, ValueError, KeyError) as exc:
        raise InvalidInputError(f"{file_name}：无法读取（{type(exc).__name__}），请使用 XLSX 或 UTF-8 CSV") from None


def _csv_rows(content: bytes, file_name: str) -> list[tuple[int, list[str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{file_name}：不是 UTF-8 编码的 CSV（请在 Excel 中另存为“CSV UTF-8”）") from None
    try:
        return _limited(file_name, enumerate((row[:MAX_COLUMNS] for row in csv.reader(io.StringIO(text, newline=""))),
                                             start=1))
    except csv.Error as exc:
        raise InvalidInputError(f"{file_name}：CSV 格式错误（{exc}）") from None


def _limited(file_name: str, rows: Iterable[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """The rows (numbered) with each cell as text; InvalidInputError beyond MAX_ROWS (the header row besides)."""
    kept: list[tuple[int, list[str]]] = []
    for number, row in rows:
        if len(kept) > MAX_ROWS:
            raise InvalidInputError(f"{file_name}：超过 {MAX_ROWS} 行，请拆分后导入")
        kept.append((number, [_text(cell) for cell in row]))
    return kept


def _text(value: str) -> str:
    """A cell as text, trimmed, without the `'` our exports put before formula-like text."""
    return restored(value.strip())


def _recognise(result: RosterFile, source: str, rows: list[tuple[int, list[str]]]) -> None:
    """Add the sheet `rows` hold to `result`, by its header row (the first not empty); an empty sheet is skipped."""
    if not rows:
        return
    header_row, headers = rows[0]
    named = [h for h in headers if h]
    fmt = max(FORMATS, key=lambda f: len(set(named) & set(f.columns)))
    wrong = [Problem(source, header_row, h, f"未知的列（{fmt.title}表的列为：{'、'.join(fmt.columns)}）")
             for h in named if h not in fmt.columns]
    wrong += [Problem(source, header_row, h, "列名重复") for h in sorted({h for h in named if named.count(h) > 1})]
    wrong += [Problem(source, header_row, c, "缺少此列") for c in fmt.required if c not in named]
    if not set(named) & set(fmt.columns):
        wrong = [Problem(source, header_row, "", "无法识别的表：第 1 行应为镇街、监管部门、行业领域或企业表的列名")]
    if wrong:
        result.problems.extend(wrong)
        return
    sheet = Sheet(fmt, source, tuple(named))
    for number, row in rows[1:]:
        if any(row):
            sheet.rows.append((number, {h: (row[i] if i < len(row) else "") for i, h in enumerate(headers) if h}))
    result.sheets.append(sheet)
