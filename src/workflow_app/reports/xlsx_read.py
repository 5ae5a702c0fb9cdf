"""Reading the sheets of an XLSX workbook as rows of text, streamed from its XML.

openpyxl's read-only mode builds an object per cell and takes about four seconds for a
roster of 5,000 enterprises (90,000 cells); the parts we need (the workbook's sheet list,
the shared strings, each sheet's cells) are read here with ElementTree's iterparse in a
fraction of that. A cell is its text as typed: a formula is "=" and its text (never its
cached result, never evaluated), a boolean TRUE/FALSE, a number as stored, text with the
`_xHHHH_` escapes Excel (and XlsxWriter) write undone. Empty rows are skipped but every row
keeps its number, as the spreadsheet shows it.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from typing import IO
from xml.etree.ElementTree import Element, iterparse

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATION = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
PACKAGE = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_COLUMN = re.compile(r"[A-Z]+")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def sheets(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(name, part path) of each worksheet, in workbook order."""
    targets = {}
    for _, node in iterparse(archive.open("xl/_rels/workbook.xml.rels")):
        if node.tag == PACKAGE + "Relationship":
            target = node.get("Target", "")
            targets[node.get("Id")] = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    found = []
    for _, node in iterparse(archive.open("xl/workbook.xml")):
        if node.tag == MAIN + "sheet" and targets.get(node.get(RELATION), "").startswith("xl/worksheets/"):
            found.append((node.get("name", ""), targets[node.get(RELATION)]))
    return found


def shared_strings(archive: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    return [_text(node) for _, node in iterparse(archive.open("xl/sharedStrings.xml")) if node.tag == MAIN + "si"]


def _text(node: Element) -> str:
    """The text of a string item (`si`, `is`): its `t`, or its rich-text runs joined (phonetic hints left out)."""
    parts = [node.find(MAIN + "t"), *(run.find(MAIN + "t") for run in node.findall(MAIN + "r"))]
    text = "".join(part.text or "" for part in parts if part is not None)
    return _ESCAPE.sub(lambda escape: chr(int(escape.group(1), 16)), text) if "_x" in text else text


def rows(part: IO[bytes], strings: list[str], max_columns: int) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) of each non-empty row of a worksheet part, at most `max_columns` wide."""
    number = 0
    cells: list[str] = []
    for _, node in iterparse(part):
        if node.tag == MAIN + "c":
            column = _index(node.get("r"), len(cells))
            if column < max_columns:
                cells += [""] * (column - len(cells))
                cells.append(_cell(node, strings))
            node.clear()
        elif node.tag == MAIN + "row":
            number = int(node.get("r") or number + 1)
            if any(cells):
                yield number, cells
            cells = []
            node.clear()


def _index(reference: str | None, default: int) -> int:
    """The column index of a reference like "C7" (0 for A), or `default` when the cell names none."""
    if not reference:
        return default
    letters = _COLUMN.match(reference)
    index = 0
    for letter in letters.group() if letters else "":
        index = index * 26 + ord(letter) - 64
    return index - 1 if index else default


def _cell(node: Element, strings: list[str]) -> str:
    kind = node.get("t", "n")
    formula = node.find(MAIN + "f")
    if formula is not None and formula.text:
        return "=" + formula.text
    if kind == "inlineStr":
        inline = node.find(MAIN + "is")
        return _text(inline) if inline is not None else ""
    value = node.find(MAIN + "v")
    text = value.text or "" if value is not None else ""
    if kind == "s":
        return strings[int(text)] if text.isdigit() and int(text) < len(strings) else ""
    if kind == "b":
        return "TRUE" if text == "1" else "FALSE"
    return text
