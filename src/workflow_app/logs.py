"""Log lines one can trust: what a user typed cannot forge a line of its own.

Messages may carry user text (a hazard title in an expression error, a name in a notice
failure). A line break in it would start what looks like a new, separate log entry, so the
formatter writes control characters of the message as escapes (``\\n``, ``\\x1b``); the
tracebacks we add stay as they are.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class OneLineFormatter(logging.Formatter):
    """Formats the message with its control characters escaped, one record per line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _CONTROL.sub(_escaped, record.message)
        return super().formatMessage(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Send the application's records to standard error, one line each (the `workflow-app` command calls this)."""
    root = logging.getLogger()
    if not any(isinstance(handler.formatter, OneLineFormatter) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(OneLineFormatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
