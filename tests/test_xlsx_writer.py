"""The streaming XLSX writer (reports/xlsx_writer.py), its files read back by openpyxl and by our own reader.

What an office opens must be what was written: text stays text (never a formula, link or number),
numbers and dates keep their type, the layout (widths, frozen header, merged bold title) holds, and
a table of any length is written without holding it.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from workflow_app.reports.xlsx import workbook_bytes, write_table
from workflow_app.reports.xlsx_read import rows as sheet_rows
from workflow_app.reports.xlsx_read import sheets as sheet_parts
from workflow_app.reports.xlsx_writer import MAX_TEXT, Book, column_letters


def _read(content: bytes):
    return load_workbook(io.BytesIO(content))


def test_values_keep_their_type_and_moments_are_shown_in_shanghai_time():
    out = io.BytesIO()
    moment = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)  # 2026-12-01 01:30 in Shanghai
    write_table(out, "类型", [("列", 8)] * 9, [[7, -2.5, Decimal("3.10"), True, date(2026, 11, 2), moment,
                                                "文字", None, 12345678901234]])
    sheet = _read(out.getvalue()).active
    cells = list(sheet[3])
    assert [c.value for c in cells[:7]] == [7, -2.5, 3.1, True, datetime(2026, 11, 2), datetime(2026, 12, 1, 1, 30),
                                           "文字"]
    assert [c.data_type for c in cells[:7]] == ["n", "n", "n", "b", "d", "d", "s"]
    assert cells[4].number_format == "yyyy-mm-dd" and cells[5].number_format == "yyyy-mm-dd hh:mm:ss"
    assert cells[7].value is None and cells[8].value == 12345678901234


def test_the_tables_layout_title_header_widths_and_frozen_rows():
    out = io.BytesIO()
    assert write_table(out, "标题", [("甲", 10), ("乙", 30), ("丙", 6)], iter([["a", "b", "c"], ["d", "e", "f"]]),
                       "附表3") == 2
    sheet = _read(out.getvalue()).active
    assert sheet.title == "附表3" and sheet.freeze_panes == "A3" and sheet.max_row == 4
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:C1"] and sheet["A1"].value == "标题"
    assert sheet["A1"].font.b and sheet["A1"].font.sz == 14 and sheet["A1"].alignment.horizontal == "center"
    assert [c.value for c in sheet[2]] == ["甲", "乙", "丙"] and all(c.font.b and c.border.left.style == "thin"
                                                                   for c in sheet[2])
    assert not sheet["A3"].font.b
    widths = [sheet.column_dimensions[letter].width for letter in "ABC"]
    assert [round(w) for w in widths] == [11, 31, 7]  # Excel's width of so many characters, with its padding


@pytest.mark.parametrize("typed, shown", [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"),
    ("\t=1", "'\t=1"), ("\r=1", "'\n=1"), ("\x07=1+1", "'=1+1"), ("a\x00b\x1fc", "abc"),
    ("坏\ud800字\uffff", "坏字"),  # a lone surrogate, a non-character: XML cannot hold them
    ("<b>&amp;</b>", "<b>&amp;</b>"), ("]]></t></is></c><c><f>1+1</f></c>", "]]></t></is></c><c><f>1+1</f></c>"),
    ("  两端空格  ", "  两端空格  "), ("第一行\r\n第二行", "第一行\n第二行"), ("https://evil.example/", "https://evil.example/"),
])
def test_typed_text_is_an_inert_string_cell(typed: str, shown: str):
    content = workbook_bytes([("表", [["名称"], [typed]])])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
    cell = _read(content).active["A2"]
    assert (cell.value, cell.data_type) == (shown, "s")


def test_text_excel_would_unescape_or_refuse_comes_back_as_typed():
    """Excel reads `_x0041_` in a cell as "A" and calls a file with a cell over 32,767 characters corrupt."""
    typed = "编号_x0041_不是字母"
    long = "隐" * (MAX_TEXT + 10)
    astral = "😀" * MAX_TEXT  # two UTF-16 units each
    content = workbook_bytes([("表", [["名称"], [typed], [long], [astral]])])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        (_, part), = sheet_parts(archive)
        read = [cells[0] for _, cells in sheet_rows(archive.open(part), [], 1)]
    assert read[1] == typed  # as Excel and our importer read it
    assert read[2] == "隐" * MAX_TEXT and read[3] == "😀" * (MAX_TEXT // 2)


def test_non_finite_numbers_are_text_not_a_broken_file():
    sheet = _read(workbook_bytes([("表", [[float("nan"), float("inf"), Decimal("NaN")]])])).active
    assert [c.value for c in sheet[1]] == ["nan", "inf", "NaN"]


def test_sheets_follow_each_other_and_bad_names_are_refused():
    content = workbook_bytes([("台账", [["a"]]), ("附表<3>&", [["b"]])])
    book = _read(content)
    assert book.sheetnames == ["台账", "附表<3>&"] and book["附表<3>&"]["A1"].value == "b"
    for bad in ("", "a/b", "[x]", "'引号'", "长" * 32):
        with pytest.raises(ValueError, match="not a worksheet name"), Book(io.BytesIO()) as writer:
            writer.sheet(bad)
    with pytest.raises(ValueError, match="two worksheets"), Book(io.BytesIO()) as writer:
        writer.sheet("Sheet")
        writer.sheet("sheet")
    assert _read(workbook_bytes([])).sheetnames == ["Sheet1"]  # a workbook has one sheet at least


def test_column_letters():
    assert [column_letters(i) for i in (0, 25, 26, 701, 702, 16383)] == ["A", "Z", "AA", "ZZ", "AAA", "XFD"]


def test_a_long_table_is_written_in_constant_memory(tmp_path):
    """Rows stream to the file: memory does not grow with the table (50,000 rows, some 5 MB of XML)."""
    def rows(count: int):
        for n in range(count):
            yield [n, f"企业{n:05d}", "储罐区可燃气体报警器不报警", 2.5, date(2026, 11, 2)]

    def peak(count: int) -> int:
        tracemalloc.start()
        with (tmp_path / f"{count}.xlsx").open("wb") as out:
            write_table(out, "长表", [("列", 10)] * 5, rows(count))
        _, highest = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return highest

    small, large = peak(1_000), peak(50_000)
    assert large < small + 1_000_000, (small, large)
    sheet = load_workbook(tmp_path / "50000.xlsx", read_only=True).active
    last = list(sheet.iter_rows(min_row=50_002, values_only=True))
    assert last == [(49_999, "企业49999", "储罐区可燃气体报警器不报警", 2.5, datetime(2026, 11, 2))]
