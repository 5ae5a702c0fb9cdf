"""Log lines: user text in a message cannot forge a separate entry."""

from __future__ import annotations

import io
import logging

from workflow_app.logs import FORMAT, OneLineFormatter, configure_logging


def test_a_message_with_line_breaks_stays_one_line_and_the_traceback_is_kept() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(OneLineFormatter(FORMAT))
    log = logging.getLogger("test_logs")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("process error at %s: %s", "Task_X", "title\n2026-12-03 00:00:00 INFO admin granted\x1b[31m")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("title\\n2026-12-03 00:00:00 INFO admin granted\\x1b[31m")
    assert rest[0].endswith("failed") and rest[1].startswith("Traceback") and "ValueError: boom" in rest[-1]


def test_the_command_installs_the_formatter_once() -> None:
    root = logging.getLogger()
    configure_logging()
    configure_logging()
    ours = [h for h in root.handlers if isinstance(h.formatter, OneLineFormatter)]
    assert len(ours) == 1
    root.removeHandler(ours[0])
