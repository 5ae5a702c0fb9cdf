"""Benchmark: importing a zone's roster (组织名册) of 5,000 enterprises on SQLite.

Usage: python bench/admin.py [--enterprises N]
Writes a roster workbook (10 towns, 8 departments, 12 sectors, N enterprises with valid
credit codes; every fifth works in two sectors, every seventh has a second supervising
department, every third a risk colour) to a temporary file, imports it into a fresh SQLite
database as the office (check + preview, then apply), then re-imports it with 500 rows
changed. Prints `<step>: X s (CPU Y s)`: on a shared machine the CPU time is the figure to
compare. Target (issue #17): the first import (preview + apply) < 10 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from workflow_app.reports.xlsx import workbook_bytes
from workflow_app.services import roster
from workflow_app.services.credit_code import ALPHABET, check_character
from workflow_app.services.people import create_first_admin
from workflow_app.services.roster_format import DEPARTMENTS, ENTERPRISES, SECTORS, TOWNS
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
COLOURS = ["红", "橙", "黄", "蓝"]


def credit_code(number: int) -> str:
    body = "91990100MA" + "".join(ALPHABET[(number // 31**i) % 31] for i in range(7))
    return body + check_character(body)


def enterprise_row(i: int, changed: bool) -> list[str]:
    sectors = f"s_{'abcdefghijkl'[i % 12]}" + (f"、s_{'abcdefghijkl'[(i + 1) % 12]}" if i % 5 == 0 else "")
    row = {"统一社会信用代码": credit_code(i), "企业名称": f"示范{i:05d}{'新材料' if changed else '化工'}有限公司",
           "编号": f"E{i:05d}", "地址": f"示范路{i}号", "镇街": f"T{i % 10:02d}", "行业领域": sectors,
           "其他监管部门": f"D{(i + 3) % 8}" if i % 7 == 0 else "", "高危企业": "是" if i % 4 == 0 else "否",
           "重大危险源": "否", "风险等级": COLOURS[i % 4] if i % 3 == 0 or changed else "",
           "主要负责人": f"负责人{i}", "主要负责人电话": f"138{i:08d}", "经度": f"{120 + i / 100000:.6f}",
           "纬度": "30.500000", "状态": "在营"}
    return [row.get(column, "") for column in ENTERPRISES.columns]


def workbook(count: int, changed: int = 0) -> bytes:
    sectors = [[f"s_{c}", f"行业{c}", "是" if i < 4 else "否", f"D{i % 8}"] for i, c in enumerate("abcdefghijkl")]
    return workbook_bytes([
        (TOWNS.title, [list(TOWNS.columns), *[[f"T{i:02d}", f"第{i}街道"] for i in range(10)]]),
        (DEPARTMENTS.title, [list(DEPARTMENTS.columns), *[[f"D{i}", f"第{i}监管部门"] for i in range(8)]]),
        (SECTORS.title, [list(SECTORS.columns), *sectors]),
        (ENTERPRISES.title, [list(ENTERPRISES.columns), *[enterprise_row(i, i < changed) for i in range(count)]]),
    ])


def timed(label: str, work):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label}: {elapsed:.2f} s (CPU {cpu:.2f} s)")
    return result, (elapsed, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=5000)
    count = parser.parse_args().enterprises
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'admin.db'}")
        factory = make_session_factory(engine)
        init_db(engine, factory, ROOT / "bpmn", NOW)
        with transaction(factory) as s:
            office_id = create_first_admin(s, "office", "安委办", NOW)[0].id
        path = Path(folder) / "roster.xlsx"
        path.write_bytes(workbook(count))

        def preview(content: bytes):  # type: ignore[no-untyped-def]
            with transaction(factory) as s:
                shown = roster.preview(s, s.get(roster.User, office_id), [("roster.xlsx", content)])
            return f"{shown.count(True)} new, {shown.count(False)} changed, {len(shown.problems)} problems"

        def apply(content: bytes):  # type: ignore[no-untyped-def]
            with transaction(factory) as s:
                shown = roster.import_roster(s, s.get(roster.User, office_id), [("roster.xlsx", content)], NOW)
            return shown

        content = path.read_bytes()
        print(f"roster: {count} enterprises, {len(content) // 1024} KB")
        summary, checking = timed("first import, check + preview", lambda: preview(content))
        print(f"  {summary}")
        _, applying = timed("first import, apply (checked again inside)", lambda: apply(content))
        print(f"first import total: {checking[0] + applying[0]:.2f} s (CPU {checking[1] + applying[1]:.2f} s; "
              "target < 10 s)")
        changed = workbook(count, changed=500)
        summary, _ = timed("re-import with 500 changed rows, check + preview", lambda: preview(changed))
        print(f"  {summary}")
        timed("re-import with 500 changed rows, apply", lambda: apply(changed))
        engine.dispose()


if __name__ == "__main__":
    main()
