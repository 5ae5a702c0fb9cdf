"""A BPMN form (engine FormSpec) as JSON Schema (2020-12) that says what the server enforces.

Built from the same FormSpec that `engine.validate_submission` checks with, so the two cannot drift:
a payload valid by the schema passes the form's validation. The schema is never looser than the
server and, for which fields must be filled, exactly as strict: `required` for unconditional
fields (one with a declared default is filled by the server and so optional, with its `default`),
`if`/`then` for `required_if` (whose condition holds for a blank field exactly when the other
field's default satisfies it), a non-blank value for every field that must be filled (the server
counts whitespace as blank). Rules that depend on the record or today's date (a deadline later than
the current one, photos uploaded to this hazard) stay the server's; the form's description names them.
"""

from __future__ import annotations

import math
from typing import Any

from ...engine import FieldSpec, FormSpec
from ...engine.forms import RequiredIf

TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"}, "long": {"type": "integer"}, "double": {"type": "number"},
    "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"}, "enum": {"type": "string"},
    "file": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}
BLANK: dict[str, Any] = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": r"^\s*$"},
                                   {"type": "array", "maxItems": 0}]}
"""What the server counts as not filled in (engine.forms._blank)."""
FILLED: dict[str, dict[str, Any]] = {"string": {"pattern": r"\S"}, "file": {"minItems": 1}}
"""What a field the server requires must hold besides its type (not only whitespace, at least one file)."""
SERVER_RULES = ("Files: SHA-256 hashes of files uploaded to this hazard (POST /api/v1/hazards/{hazard_id}/"
                "attachments). Rules of the record the server also checks: a requested deadline is later than "
                "the current one, an extension is asked for before the deadline, a major hazard gets a plan.")


def form_schema(form: FormSpec, signer: str | None = None, signature_field: str | None = None) -> dict[str, Any]:
    """`form` as JSON Schema; `signature_field` (camunda property) must carry `signer`, the caller's name."""
    declared = {f.id: f for f in form.fields}
    properties = {f.id: _field_schema(f, form) for f in form.fields}
    if signer is not None and signature_field in properties:
        properties[signature_field]["const"] = signer
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties,
                              "required": [f.id for f in form.fields if _always_required(form, f)]}
    conditionals = _conditionals(form, declared)
    if conditionals:
        schema["allOf"] = conditionals
    if any(f.type == "file" for f in form.fields) or form.key.startswith("Task_"):
        schema["description"] = SERVER_RULES
    return schema


def _always_required(form: FormSpec, spec: FieldSpec) -> bool:
    """Required whatever else is sent: declared so, applicable, and not filled by a default of the server."""
    return (spec.required and (spec.only_when is None or form.facts is not None)
            and spec.default in (None, ""))


def _field_schema(spec: FieldSpec, form: FormSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": spec.label, **TYPES.get(spec.type, {"type": "string"})}
    if spec.type == "enum":
        schema["enum"] = [option for option, _ in spec.options]
    if spec.default not in (None, ""):
        schema["default"] = spec.default
    for limit, key in (("maxlength", "maxLength"), ("minlength", "minLength"), ("min", "minimum"),
                       ("max", "maximum")):
        if limit in spec.limits:
            schema["maxItems" if spec.type == "file" and limit == "max" else key] = _number(spec.limits[limit])
    if _always_required(form, spec):
        schema.update(FILLED.get(spec.type, {}))
    return schema


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _conditionals(form: FormSpec, declared: dict[str, FieldSpec]) -> list[dict[str, Any]]:
    """One `if`/`then` per condition (`required_if`), requiring every field it makes required, filled."""
    grouped: dict[RequiredIf, list[FieldSpec]] = {}
    for spec in form.fields:
        condition = spec.required_if
        if condition is None or _always_required(form, spec) or (spec.only_when and form.facts is None):
            continue
        if spec.default not in (None, ""):
            continue  # the server fills it with its default, whatever the condition
        grouped.setdefault(condition, []).append(spec)
    return [{"if": _holds(condition, declared.get(condition.other)),
             "then": {"required": [f.id for f in specs],
                      "properties": {f.id: FILLED[f.type] for f in specs if f.type in FILLED}}}
            for condition, specs in grouped.items()]


def _holds(condition: RequiredIf, other: FieldSpec | None) -> dict[str, Any]:
    """A schema matching at least every submission for which the server finds `condition` true.

    The server compares the text of the other field's value (its default when blank) with the condition's.
    """
    default = other.default if other is not None and other.default not in (None, "") else ""
    holds_when_blank = (str(default) == condition.value) == condition.equals
    name = condition.other
    if condition.equals:
        same = {"enum": _values_written(condition.value)}
        if holds_when_blank:
            return {"properties": {name: {"anyOf": [same, BLANK]}}}
        return {"required": [name], "properties": {name: same}}
    equal_surely: dict[str, Any] = {"required": [name], "properties": {name: {"const": condition.value}}}
    if holds_when_blank:
        return {"not": equal_surely}
    return {"not": {"anyOf": [equal_surely, {"not": {"required": [name]}}, {"properties": {name: BLANK}}]}}


def _values_written(text: str) -> list[Any]:
    """The JSON values whose text (Python's str) may be `text`: the text itself, a number, a boolean."""
    values: list[Any] = [text]
    for parse in (int, float):
        try:
            number = parse(text)
        except ValueError:
            continue
        if math.isfinite(number) and number not in values[1:]:
            values.append(number)
    if text in ("True", "False"):
        values.append(text == "True")
    return values
