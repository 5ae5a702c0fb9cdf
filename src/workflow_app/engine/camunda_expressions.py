"""Expressions as Camunda Modeler writes them, made into the sandboxed Python expressions the engine runs.

Done once, on the parsed document before SpiffWorkflow reads it, so what deploys is what runs:
- timers: an unquoted ISO 8601 value (``PT5M``, ``2027-01-01T09:00:00+08:00``, ``R3/PT1H``) becomes a string
  literal; a Quartz/cron cycle is refused (the engine has no cron);
- JUEL (``${approved}``, ``#{amount > 1000}``, ``${decision == 'rework'}``, ``${x != null}``) in gateway
  conditions, conditional events and timers is translated when it uses only names, literals, comparisons,
  parentheses and ``&&``/``||``/``!``/``and``/``or``/``not``/``empty``; anything else is refused naming the
  element and the expression.
Python expressions (our own models) pass through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ModelError

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ISO_DURATION = re.compile(r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")
ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?")
ISO_CYCLE = re.compile(r"R\d*(/[^/\s]+){1,2}")
CRON_FIELD = r"[0-9*?/,LW#A-Z-]+"
CRON = re.compile(rf"{CRON_FIELD}(\s+{CRON_FIELD}){{4,6}}", re.IGNORECASE)
JUEL = re.compile(r"\s*[$#]\{(.*)\}\s*", re.DOTALL)
TOKEN = re.compile(r"""\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'[^'\\]*'|"[^"\\]*")|(?P<name>[A-Za-z_]\w*)
                       |(?P<op>==|!=|<=|>=|&&|\|\||[<>!()]))""", re.VERBOSE)
WORDS = {"true": "True", "false": "False", "null": "None", "and": "and", "or": "or", "not": "not",
         "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}
OPERATORS = {"&&": "and", "||": "or", "!": "not"}


def normalise(document: Any, file_name: str) -> None:
    """Rewrite, in place, every timer and condition of `document` written the Camunda way; ModelError if one
    cannot be run."""
    for timer_tag in ("timeDate", "timeDuration", "timeCycle"):
        for node in document.iter(f"{{{BPMN}}}{timer_tag}"):
            node.text = _timer(node.text or "", file_name, _owner(node))
    for tag in ("conditionExpression", "condition"):
        for node in document.iter(f"{{{BPMN}}}{tag}"):
            if node.text and JUEL.fullmatch(node.text):
                node.text = _translated(node.text, file_name, _owner(node))


def _timer(text: str, file_name: str, element_id: str) -> str:
    value = text.strip()
    if ISO_DURATION.fullmatch(value) or ISO_DATE_TIME.fullmatch(value) or ISO_CYCLE.fullmatch(value):
        return repr(value)
    if CRON.fullmatch(value):
        raise ModelError(file_name, element_id, f"timer {value!r}: cron cycles are not supported; "
                                                "use ISO 8601 R/…/P… (e.g. R/2027-01-04T09:00:00+08:00/P1D)")
    if JUEL.fullmatch(value):
        return _translated(value, file_name, element_id)
    return text


def _translated(expression: str, file_name: str, element_id: str) -> str:
    match = JUEL.fullmatch(expression)
    assert match is not None
    try:
        return juel_to_python(match.group(1))
    except ValueError as exc:
        raise ModelError(file_name, element_id, f"expression {expression.strip()!r} cannot be run: {exc}; "
                                                "only names, literals, comparisons and &&, ||, !, and, or, "
                                                "not, empty are translated") from None


def juel_to_python(body: str) -> str:
    """The Python expression of a simple JUEL expression body; ValueError naming the first thing it cannot
    translate (a method call, a property path, arithmetic, a ternary…)."""
    out: list[str] = []
    position = 0
    body = body.strip()
    while position < len(body):
        token = TOKEN.match(body, position)
        if token is None or token.end() == position:
            raise ValueError(f"{body[position:].strip()[:20]!r} is not supported")
        position = token.end()
        kind, text = token.lastgroup, token.group(token.lastgroup or "")
        if kind == "name" and text == "empty":
            operand = TOKEN.match(body, position)
            if operand is None or operand.lastgroup != "name" or operand.group("name") in WORDS:
                raise ValueError("'empty' must be followed by a name")
            position = operand.end()
            name = operand.group("name")
            out.append(f"({name} is None or {name} == '' or {name} == [] or {name} == {{}})")
        elif kind == "name":
            if position < len(body) and body[position] in ".[":
                raise ValueError(f"property paths ({text}{body[position]}…) are not supported")
            out.append(WORDS.get(text, text))
        elif kind == "op":
            if text == "(" and out and out[-1] not in ("and", "or", "not", "(") and not _is_operator(out[-1]):
                raise ValueError("method and function calls are not supported")
            out.append(OPERATORS.get(text, text))
        else:
            out.append(text)
    python = " ".join(out).replace("( ", "(").replace(" )", ")")
    try:
        compile(python, "<juel>", "eval")
    except SyntaxError:
        raise ValueError("it is not a complete expression") from None
    return python


def _is_operator(token: str) -> bool:
    return token in ("==", "!=", "<", ">", "<=", ">=")


def _owner(node: Any) -> str:
    """The id of the element an expression belongs to (its sequence flow or event)."""
    while node is not None and (not node.get("id") or str(node.tag).endswith("EventDefinition")):
        node = node.getparent()
    return str(node.get("id")) if node is not None else ""
