"""A constant-memory XLSX writer: each row goes into the zip as worksheet XML as soon as it is appended.

Why our own: XlsxWriter's cell writer was most of 附表3's time at 200,000 hazards (some 7 µs a cell,
bench/reports.py); the worksheet XML written here in one pass takes about a seventh of that. What a
workbook holds: worksheets with inline strings (no shared-string table, so nothing is kept per row),
numbers, booleans and dates (serial numbers with a date format, Asia/Shanghai for a moment with a zone),
the fixed styles of `Style`, column widths, frozen rows and merged ranges.

Every text cell is made safe here and nowhere else: characters XML 1.0 cannot hold removed, formula-like
text made inert (cells.py), `_xHHHH_` sequences escaped (Excel would read them as a character), at most
32,767 characters (Excel's limit; longer text makes it call the file corrupt), XML-escaped, and written as
a string cell: never a formula, a link or a number, whatever it looks like.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from ..engine.calendar import SHANGHAI
from .cells import inert

MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MAX_TEXT = 32_767
"""Excel's limits: rows and columns of a worksheet, characters (UTF-16 units) of a cell."""
UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold (control characters but tab, LF and CR; lone surrogates; U+FFFE/U+FFFF)."""
EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
PLAIN_UNSAFE = re.compile(r"\A[=+\-@]|[&<>]|_x")
"""What `cell_text` or XML escaping would change in printable text (tab and CR are not printable)."""
SHEET_NAME_UNFIT = re.compile(r"[\[\]:*?/\\]")
EPOCH = date(1899, 12, 30)
FLUSH_EVERY = 500
"""Rows kept before they are compressed into the zip: a few hundred KB at most."""

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


class Style(IntEnum):
    """The cell styles every workbook carries (their index in styles.xml's cellXfs)."""

    PLAIN = 0
    TITLE = 1  # bold 14 pt, centred, wrapped
    HEADER = 2  # bold, centred, wrapped, thin grey border
    DAY = 3  # yyyy-mm-dd
    MOMENT = 4  # yyyy-mm-dd hh:mm:ss


FONT = '<font>{}<sz val="{}"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>'
CENTRED = '<alignment horizontal="center" vertical="center" wrapText="1"/>'
GREY = '<color rgb="FF999999"/>'
STYLES = (
    f'{HEAD}<styleSheet xmlns="{MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    f'<fonts count="3">{FONT.format("", 11)}{FONT.format("<b/>", 11)}{FONT.format("<b/>", 14)}</fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    f'<border><left style="thin">{GREY}</left><right style="thin">{GREY}</right><top style="thin">{GREY}</top>'
    f'<bottom style="thin">{GREY}</bottom><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    f'<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">{CENTRED}</xf>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="1" xfId="0" applyFont="1" applyBorder="1" applyAlignment="1">'
    f'{CENTRED}</xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def cell_text(value: str) -> str:
    """`value` as a text cell holds it, before XML escaping: see the module's docstring.

    What XML cannot hold goes first, so that such a character in front of "=" cannot hide a formula from
    `inert`; CR becomes LF after `inert` saw it (Excel's line break in a cell is LF).
    """
    if not value.isprintable():
        value = inert(UNFIT.sub("", value)).replace("\r\n", "\n").replace("\r", "\n")
    else:
        value = inert(value)
    if "_x" in value:
        value = EXCEL_ESCAPE.sub(r"_x005F_\1", value)
    if len(value) > MAX_TEXT // 2:
        value = _clipped(value)
    return value


def _clipped(text: str) -> str:
    """`text` cut to Excel's 32,767 UTF-16 units (a character beyond the Basic Multilingual Plane counts two)."""
    return text.encode("utf-16-le")[:MAX_TEXT * 2].decode("utf-16-le", "ignore")  # no half of a pair at the end


def column_letters(index: int) -> str:
    """The letters of column `index` (0 is A, 26 is AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _serial(value: date) -> str:
    """A date or moment as Excel's serial number (days since 1899-12-30); a moment with a zone in Shanghai time."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI).replace(tzinfo=None)
        delta = value - datetime(1899, 12, 30)
        return repr(delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000)
    return str((value - EPOCH).days)


def _cell(where: str, value: Any, styled: str) -> str:
    """The XML of one cell at `where` (e.g. "B3") holding `value`, by its type; "" for an empty unstyled one."""
    kind = type(value)
    if kind is str:
        return _text_cell(where, value, styled)
    if kind is int or (kind is float and math.isfinite(value)):
        return f'<c r="{where}"{styled}><v>{value!r}</v></c>'
    if kind is bool:
        return f'<c r="{where}"{styled} t="b"><v>{int(value)}</v></c>'
    if kind is Decimal and value.is_finite():
        return f'<c r="{where}"{styled}><v>{float(value)!r}</v></c>'
    if isinstance(value, date):
        own = styled or f' s="{int(Style.MOMENT if isinstance(value, datetime) else Style.DAY)}"'
        return f'<c r="{where}"{own}><v>{_serial(value)}</v></c>'
    if value is not None:
        return _text_cell(where, str(value), styled)
    return f'<c r="{where}"{styled}/>' if styled else ""


def _text_cell(where: str, value: str, styled: str) -> str:
    if not value:
        return f'<c r="{where}"{styled}/>' if styled else ""  # empty text is an empty cell, as a spreadsheet has it
    if value.isprintable() and len(value) <= MAX_TEXT // 2 and not PLAIN_UNSAFE.search(value):
        text = value  # most cells: nothing to remove, mark or escape
    else:
        text = escape(cell_text(value))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() or "\n" in text else ""
    return f'<c r="{where}"{styled} t="inlineStr"><is><t{space}>{text}</t></is></c>'


class Sheet:
    """One worksheet being written: `append` rows in order; the book closes it."""

    def __init__(self, part: IO[bytes], widths: Sequence[float], frozen_rows: int, selected: bool):
        self._part = part
        self._pending: list[str] = []
        self._merged: list[str] = []
        self._letters = [column_letters(i) for i in range(max(len(widths), 32))]
        self.rows = 0
        pane = ""
        if frozen_rows:
            top = f"A{frozen_rows + 1}"
            pane = (f'<pane ySplit="{frozen_rows}" topLeftCell="{top}" activePane="bottomLeft" state="frozen"/>'
                    f'<selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/>')
        columns = "".join(f'<col min="{i}" max="{i}" width="{(int(w * 7 + 5) / 7):.6g}" customWidth="1"/>'
                          for i, w in enumerate(widths, start=1))
        tab = ' tabSelected="1"' if selected else ""
        self._pending.append(
            f'{HEAD}<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheetViews><sheetView'
            f'{tab} workbookViewId="0">{pane}</sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{f"<cols>{columns}</cols>" if columns else ""}<sheetData>')

    def merge(self, first_row: int, first_column: int, last_row: int, last_column: int) -> None:
        """Merge a range (0-based, inclusive), e.g. a title over the table's width."""
        self._merged.append(f'<mergeCell ref="{column_letters(first_column)}{first_row + 1}:'
                            f'{column_letters(last_column)}{last_row + 1}"/>')

    def append(self, values: Iterable[Any], style: Style | None = None) -> None:
        """Write the next row: text as inert string cells, numbers, booleans, dates; None leaves a cell empty
        (styled if `style` is given, e.g. the rest of a merged title)."""
        if self.rows == MAX_ROWS:
            raise ValueError(f"a worksheet holds at most {MAX_ROWS:,} rows")
        self.rows += 1
        number = str(self.rows)
        styled = f' s="{int(style)}"' if style else ""
        letters = self._letters
        parts = [f'<row r="{number}">']
        for column, value in enumerate(values):
            if column >= len(letters):
                if column == MAX_COLUMNS:
                    raise ValueError(f"a worksheet holds at most {MAX_COLUMNS:,} columns")
                letters.append(column_letters(column))
            parts.append(_cell(letters[column] + number, value, styled))
        parts.append("</row>")
        self._pending.append("".join(parts))
        if len(self._pending) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        self._part.write("".join(self._pending).encode("utf-8"))
        self._pending.clear()

    def close(self) -> None:
        merged = f'<mergeCells count="{len(self._merged)}">{"".join(self._merged)}</mergeCells>' if self._merged else ""
        self._pending.append(f'</sheetData>{merged}<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
                             'header="0.3" footer="0.3"/></worksheet>')
        self._flush()
        self._part.close()


class Book:
    """A workbook written to `out` sheet after sheet (use as a context manager; `close` finishes the file)."""

    def __init__(self, out: IO[bytes]):
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self._names: list[str] = []
        self._sheet: Sheet | None = None

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sheet(self, name: str, widths: Sequence[float] = (), frozen_rows: int = 0) -> Sheet:
        """Start the next worksheet (the one before is finished): `widths` in characters, column by column."""
        if not name or len(name) > 31 or SHEET_NAME_UNFIT.search(name) or name[0] == "'" or name[-1] == "'":
            raise ValueError(f"not a worksheet name: {name!r} (1-31 characters, none of []:*?/\\, no ' at an end)")
        if name.casefold() in (n.casefold() for n in self._names):
            raise ValueError(f"two worksheets named {name!r}")
        self._finish_sheet()
        self._names.append(name)
        part = self._zip.open(self._info(f"xl/worksheets/sheet{len(self._names)}.xml"), "w")
        self._sheet = Sheet(part, widths, frozen_rows, selected=len(self._names) == 1)
        return self._sheet

    def _finish_sheet(self) -> None:
        if self._sheet is not None:
            self._sheet.close()
            self._sheet = None

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        """A part's entry: compressed, dated 1980-01-01 so that the same workbook gives the same bytes."""
        info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    def close(self) -> None:
        """Finish the last sheet and write the parts that list the sheets (a workbook needs one at least)."""
        if self._zip.fp is None:
            return
        if not self._names:
            self.sheet("Sheet1")
        self._finish_sheet()
        sheets = range(1, len(self._names) + 1)
        styles = len(self._names) + 1
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{CONTENT}.worksheet+xml"/>'
                            for n in sheets)
        parts = {
            "[Content_Types].xml": (
                f'{HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/xl/workbook.xml" ContentType="{CONTENT}.sheet.main+xml"/>'
                f'<Override PartName="/xl/styles.xml" ContentType="{CONTENT}.styles+xml"/>{overrides}</Types>'),
            "_rels/.rels": (
                f'{HEAD}<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
                f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
            "xl/workbook.xml": (
                f'{HEAD}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><bookViews><workbookView/></bookViews>'
                "<sheets>" + "".join(f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
                                     for n, name in zip(sheets, self._names, strict=True)) + "</sheets></workbook>"),
            "xl/_rels/workbook.xml.rels": (
                f'{HEAD}<Relationships xmlns="{PACKAGE}">'
                + "".join(f'<Relationship Id="rId{n}" Type="{RELATIONSHIPS}/worksheet" '
                          f'Target="worksheets/sheet{n}.xml"/>' for n in sheets)
                + f'<Relationship Id="rId{styles}" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/>'
                + "</Relationships>"),
            "xl/styles.xml": STYLES,
        }
        for name, text in parts.items():
            self._zip.writestr(self._info(name), text.encode("utf-8"))
        self._zip.close()
