"""Checking a roster whole against what the database holds: every wrong cell named, every row made a record.

A record is a row in canonical form: {column: text}, references as codes (a town, sector or
department may be named by code or by exact name), yes/no as 是/否, colours and states in
Chinese, coordinates with six decimals, several sectors as "main、others sorted". The same
form is made of the stored organisations (`known.py`), so a preview is a comparison of
dicts and an export writes records as they are.

A column absent from a sheet leaves that field of an existing organisation alone (a new one
gets the default); an empty cell clears it, except 编号 (kept; a new enterprise's is its
credit code) and 牵头监管部门 (its main sector's department).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial

from . import credit_code
from .roster_format import COLOURS, DEPARTMENTS, ENTERPRISES, SECTORS, STATUSES, TOWNS, Problem, Sheet, SheetFormat
from .roster_known import Known

SEPARATORS = re.compile(r"[、，,;；]+")
SECTOR_CODE = re.compile(r"[a-z][a-z_]*")
"""Sector codes as the judgement standards name them (standards.py)."""
ORG_CODE = re.compile(r"[^\s,，、;；]{1,40}")
YES, NO = {"是", "yes", "y", "true", "1"}, {"否", "no", "n", "false", "0", ""}
LIMITS = {"镇街名称": 200, "部门名称": 200, "行业领域名称": 100, "企业名称": 200, "地址": 300, "主要负责人": 50,
          "主要负责人电话": 40, "安全管理员": 50, "安全管理员电话": 40}
RANGES = {"经度": Decimal(180), "纬度": Decimal(90)}


class Bad(Exception):
    """A cell's value is wrong; the message says why."""


@dataclass
class Checked:
    """The records of a roster by kind, keyed by code (by credit code for enterprises), in file order."""

    records: dict[str, dict[str, dict[str, str]]] = field(default_factory=lambda: {"town": {}, "department": {},
                                                                                  "sector": {}, "enterprise": {}})
    problems: list[Problem] = field(default_factory=list)


class Names:
    """The towns, departments or sectors a cell may name, by code or by exact name (file rows win)."""

    def __init__(self, title: str, names: dict[str, str]):
        self.title = title
        self.names = dict(names)

    def code(self, text: str) -> str:
        if text in self.names:
            return text
        codes = [code for code, name in self.names.items() if name == text]
        if len(codes) > 1:
            raise Bad(f"名称「{text}」对应多个{self.title}（{'、'.join(codes)}），请写编号")
        if not codes:
            raise Bad(f"未知的{self.title}「{text}」")
        return codes[0]


def check(sheets: list[Sheet], known: Known) -> Checked:
    """Every sheet's rows as records, or each wrong cell's problem (towns, departments, sectors, then enterprises)."""
    checked = Checked()
    towns = Names("镇街", known.names["town"])
    departments = Names("监管部门", known.names["department"])
    sectors = Names("行业领域", {code: r["行业领域名称"] for code, r in known.sectors.items()})
    for fmt, names in ((TOWNS, towns), (DEPARTMENTS, departments)):
        for sheet in _of(sheets, fmt):
            _check_rows(sheet, checked, partial(_unit, sheet.format, known=known))
        names.names.update({code: r[fmt.columns[1]] for code, r in checked.records[fmt.kind].items()})
    for sheet in _of(sheets, SECTORS):
        _check_rows(sheet, checked, lambda _n, row: _sector(row, known, departments))
    sectors.names.update({code: r["行业领域名称"] for code, r in checked.records["sector"].items()})
    leads = {code: r["主管部门"] for code, r in {**known.sectors, **checked.records["sector"]}.items()}
    context = _Context(known, towns, departments, sectors, leads, checked)
    for sheet in _of(sheets, ENTERPRISES):
        _check_rows(sheet, checked, lambda n, row: _enterprise(n, row, context))
    return checked


def _of(sheets: list[Sheet], fmt: SheetFormat) -> list[Sheet]:
    return [s for s in sheets if s.format is fmt]


Row = dict[str, str]


def _check_rows(sheet: Sheet, checked: Checked, make: Callable[[int, Row], tuple[str, Row, list[tuple[str, str]]]],
                ) -> None:
    """Make each row's record with `make` (key, record, problems as (column, message)); refuse keys seen before."""
    records = checked.records[sheet.format.kind]
    first_rows: dict[str, int] = {}
    key_column = sheet.format.columns[0]
    for number, row in sheet.rows:
        key, record, problems = make(number, row)
        if key and key in records:
            problems.append((key_column, f"{key} 在文件中重复（另见第 {first_rows.get(key, '?')} 行）"))
        checked.problems.extend(Problem(sheet.source, number, column, message) for column, message in problems)
        if key and not problems:
            records[key] = record
        first_rows.setdefault(key, number)


def _cells(row: Row, parsers: dict[str, Callable[[str], str]]) -> tuple[Row, list[tuple[str, str]]]:
    """Each present column of `row` through its parser: the canonical values, and the problems by column."""
    values: Row = {}
    problems: list[tuple[str, str]] = []
    for column, text in row.items():
        try:
            values[column] = parsers.get(column, _plain)(text)
            if column in LIMITS and len(values[column]) > LIMITS[column]:
                raise Bad(f"不能超过 {LIMITS[column]} 字")
        except Bad as bad:
            problems.append((column, str(bad)))
    return values, problems


def _plain(text: str) -> str:
    return text


def _required(fmt: SheetFormat, row: Row) -> list[tuple[str, str]]:
    return [(column, "不能为空") for column in fmt.required if not row.get(column)]


def _unit(fmt: SheetFormat, _number: int, row: Row, *, known: Known) -> tuple[str, Row, list[tuple[str, str]]]:
    """A town's or a department's record: code and name; its code not another organisation's."""
    values, problems = _cells(row, {fmt.columns[0]: _org_code})
    problems += _required(fmt, row)
    code = values.get(fmt.columns[0], "")
    owner = known.organisations.get(code)
    if owner is not None and owner.kind != fmt.kind:
        problems.append((fmt.columns[0], f"编号 {code} 已被{owner.label}使用"))
    return code, values, problems


def _sector(row: Row, known: Known, departments: Names) -> tuple[str, Row, list[tuple[str, str]]]:
    values, problems = _cells(row, {"行业领域编号": _sector_code, "高危行业": _yes_no, "主管部门": departments.code})
    problems += _required(SECTORS, row)
    code = values.get("行业领域编号", "")
    before = known.sectors.get(code, {"高危行业": "否"})
    return code, {**before, **values}, problems


@dataclass(frozen=True)
class _Context:
    known: Known
    towns: Names
    departments: Names
    sectors: Names
    leads: dict[str, str]  # sector code → its department's code
    checked: Checked
    codes: set[str] = field(default_factory=set)  # enterprises' codes so far in the file


def _enterprise(_number: int, row: Row, context: _Context) -> tuple[str, Row, list[tuple[str, str]]]:
    """An enterprise's record: the stored one (if its credit code, or its code without a credit code, is known)
    with the row's cells over it, or the defaults with them."""
    parsers = {"统一社会信用代码": _credit_code, "编号": _org_code_or_empty, "镇街": context.towns.code,
               "行业领域": lambda t: _sectors(t, context.sectors), "牵头监管部门": _or_empty(context.departments.code),
               "其他监管部门": lambda t: _list(t, context.departments.code), "高危企业": _yes_no, "重大危险源": _yes_no,
               "风险等级": _colour, "经度": _coordinate("经度"), "纬度": _coordinate("纬度"), "状态": _status}
    values, problems = _cells(row, parsers)
    problems += _required(ENTERPRISES, row)
    if problems:
        return values.get("统一社会信用代码", ""), values, problems
    known = context.known
    key = values["统一社会信用代码"]
    existing = known.enterprise(key, values.get("编号") or key)
    record = {**(existing.record if existing else _NEW_ENTERPRISE), **{k: v for k, v in values.items() if v or
                                                                       k not in ("编号", "牵头监管部门")}}
    record["编号"] = values.get("编号") or record["编号"] or key
    if not values.get("牵头监管部门") and (existing is None or "牵头监管部门" in values or not record["牵头监管部门"]):
        record["牵头监管部门"] = context.leads.get(record["行业领域"].split("、")[0], "")
    others = [d for d in record["其他监管部门"].split("、") if d and d != record["牵头监管部门"]]
    record["其他监管部门"] = "、".join(others)
    problems += _code_taken(record["编号"], existing.id if existing else None, context)
    return key, record, problems


_NEW_ENTERPRISE = {column: "" for column in ENTERPRISES.columns} | {"高危企业": "否", "重大危险源": "否",
                                                                    "状态": "在营"}


def _code_taken(code: str, own_id: int | None, context: _Context) -> list[tuple[str, str]]:
    """The problem of `code` being another organisation's, stored or earlier in the file."""
    owner = context.known.organisations.get(code)
    if owner is not None and owner.id != own_id:
        return [("编号", f"编号 {code} 已被{owner.label}使用")]
    if code in context.checked.records["town"] or code in context.checked.records["department"]:
        return [("编号", f"编号 {code} 已是本文件中镇街或部门的编号")]
    if code in context.codes:
        return [("编号", f"编号 {code} 在文件中重复")]
    context.codes.add(code)
    return []


def _credit_code(text: str) -> str:
    code = credit_code.normalised(text)
    wrong = credit_code.problem(code)
    if wrong:
        raise Bad(wrong)
    return code


def _org_code(text: str) -> str:
    if not ORG_CODE.fullmatch(text):
        raise Bad("编号须为 1～40 个字符，不含空格和分隔符")
    return text


def _org_code_or_empty(text: str) -> str:
    return _org_code(text) if text else ""


def _sector_code(text: str) -> str:
    if not SECTOR_CODE.fullmatch(text) or len(text) > 40:
        raise Bad("行业领域编号须为小写英文字母和下划线（如 hazchem），判定标准按此编号对应行业")
    return text


def _or_empty(parse: Callable[[str], str]) -> Callable[[str], str]:
    return lambda text: parse(text) if text else ""


def _list(text: str, parse: Callable[[str], str]) -> str:
    """Several references separated by 、，,;； as their codes, sorted, each once."""
    return "、".join(sorted({parse(part.strip()) for part in SEPARATORS.split(text) if part.strip()}))


def _sectors(text: str, names: Names) -> str:
    """The main sector (the first named) then the others sorted."""
    codes = [names.code(part.strip()) for part in SEPARATORS.split(text) if part.strip()]
    if not codes:
        raise Bad("不能为空")
    return "、".join([codes[0], *sorted(set(codes[1:]) - {codes[0]})])


def _yes_no(text: str) -> str:
    if text.lower() in YES:
        return "是"
    if text.lower() in NO:
        return "否"
    raise Bad("应为 是 或 否")


def _colour(text: str) -> str:
    shown = text.removesuffix("色")
    if shown and shown not in COLOURS:
        raise Bad("应为 红、橙、黄、蓝 之一，未评定的留空")
    return shown


def _status(text: str) -> str:
    if text and text not in STATUSES:
        raise Bad("应为 在营、停业关闭 或 已合并")
    return text or "在营"


def _coordinate(column: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text:
            return ""
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise Bad("应为十进制度数（如 120.123456）") from None
        if not value.is_finite() or abs(value) > RANGES[column]:
            raise Bad(f"应在 -{RANGES[column]} 到 {RANGES[column]} 之间")
        return str(value.quantize(Decimal("0.000001")))
    return parse
