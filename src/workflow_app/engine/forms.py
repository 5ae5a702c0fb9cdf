"""Forms declared in the model (camunda:formData) and server-side validation against them.

Every submission is checked here, whatever door it came through (web form, API, CLI):
unknown fields, missing required ones, wrong types, values outside an enum or a range.
The cleaned data holds JSON-ready values: dates as ISO text, numbers as int/float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from .errors import FieldError, FormValidationError

FIELD_TYPES = ("string", "long", "double", "boolean", "date", "enum", "file")
"""Camunda's built-in form field types plus ``double`` for amounts of money and ``file``
for photos: its value is the list of the attached files' SHA-256 content hashes (the
application stores the files; the process data only names them)."""

CONSTRAINTS = ("required", "readonly", "minlength", "maxlength", "min", "max")

FACTS = ("overdue",)
"""What the application knows of a task's record and a field may depend on (camunda property `only_when`):
``overdue`` — the record is late (a hazard past its rectification deadline, or on the overdue list). A field with
``only_when`` belongs to the form only while its fact holds (see FormSpec.for_facts)."""


@dataclass(frozen=True)
class RequiredIf:
    """A field is required when another one of the same form has (or has not) a value."""

    other: str
    value: str
    equals: bool = True

    @classmethod
    def parse(cls, rule: str | None) -> RequiredIf | None:
        if not rule or "=" not in rule:
            return None
        if "!=" in rule:
            other, value = rule.split("!=", 1)
            return cls(other.strip(), value.strip(), equals=False)
        other, value = rule.split("=", 1)
        return cls(other.strip(), value.strip())

    def holds(self, values: dict[str, Any]) -> bool:
        return (str(values.get(self.other, "")) == self.value) == self.equals


@dataclass(frozen=True)
class FieldSpec:
    """One declared form field."""

    id: str
    label: str
    type: str
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    default: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)

    @property
    def required_if(self) -> RequiredIf | None:
        """When this field is required besides `required`: `other=value` or `other!=value`."""
        return RequiredIf.parse(self.properties.get("required_if"))

    @property
    def shown_if(self) -> RequiredIf | None:
        """When this optional field applies (shown only then with JavaScript): `other=value` or `other!=value`."""
        return RequiredIf.parse(self.properties.get("shown_if"))

    @property
    def only_when(self) -> str | None:
        """The fact (FACTS) without which this field is not part of the form at all."""
        return self.properties.get("only_when") or None

    @property
    def multiline(self) -> bool:
        """Long text: rendered as a text area."""
        return self.properties.get("multiline") == "true"


@dataclass(frozen=True)
class FormSpec:
    """The form of one user task or start event."""

    key: str
    fields: tuple[FieldSpec, ...] = ()
    withheld: tuple[FieldSpec, ...] = ()
    """Declared fields left out by for_facts: a blank value for one is ignored, a filled one refused."""
    facts: frozenset[str] | None = None
    """What for_facts was given; None for the form as declared, where a field with `only_when` is never
    required (the engine does not know the record: the application checks the form for_facts first)."""

    @property
    def labels(self) -> dict[str, str]:
        """Each declared field's label (the msgid of its translation) by id, withheld ones included."""
        return {f.id: f.label for f in self.fields + self.withheld}

    def labelled(self, refused: FormValidationError) -> FormValidationError:
        """`refused` with each error carrying its field's label: a rule outside the form (the application's)
        knows the field id only, and a message naming a field must name it as the form does."""
        return FormValidationError([e if e.label else replace(e, label=self.labels.get(e.field_id, ""))
                                    for e in refused.errors])

    def for_facts(self, facts: frozenset[str] | set[str]) -> FormSpec:
        """The form as it applies to a record of which `facts` hold: fields whose `only_when` fact does not
        hold are left out (not shown, not accepted)."""
        kept = tuple(f for f in self.fields if f.only_when is None or f.only_when in facts)
        return FormSpec(key=self.key, fields=kept, facts=frozenset(facts),
                        withheld=self.withheld + tuple(f for f in self.fields if f not in kept))

    def field_ids(self) -> list[str]:
        """The ids of the declared fields, in order."""
        return [f.id for f in self.fields]

    def file_field_ids(self) -> list[str]:
        """The ids of the fields that hold photos."""
        return [f.id for f in self.fields if f.type == "file"]

    def required_for(self, data: dict[str, Any]) -> list[str]:
        """The ids of the fields a submission of `data` must fill (declared defaults applied)."""
        given = _with_defaults(self, data)
        return [f.id for f in self.fields if self.requires(f, given)]

    def requires(self, spec: FieldSpec, given: dict[str, Any]) -> bool:
        """Whether `spec` must be filled in a submission of `given` (defaults applied)."""
        if spec.only_when is not None and self.facts is None:
            return False
        return spec.required or (spec.required_if is not None and spec.required_if.holds(given))


def form_from_spiff(form: Any) -> FormSpec:
    """Convert SpiffWorkflow's Camunda ``Form`` into our immutable spec."""
    fields = []
    for spiff_field in form.fields:
        limits = {}
        required = False
        for rule in spiff_field.validation:
            if rule.name == "required":
                required = True
            elif rule.name in ("minlength", "maxlength", "min", "max"):
                limits[rule.name] = float(rule.config)
        options = tuple((o.id, o.name) for o in getattr(spiff_field, "options", []))
        fields.append(FieldSpec(
            id=spiff_field.id,
            label=spiff_field.label or spiff_field.id,
            type=spiff_field.type,
            required=required,
            options=options,
            default=spiff_field.default_value,
            properties={p.id: p.value for p in spiff_field.properties},
            limits=limits,
        ))
    return FormSpec(key=form.key or "", fields=tuple(fields))


def check_form(form: Any) -> list[str]:
    """Problems with a declared form (unknown types, enums without options, bad limits)."""
    problems = []
    ids = [f.id for f in form.fields]
    for spiff_field in form.fields:
        if ids.count(spiff_field.id) > 1:
            problems.append(f"form field {spiff_field.id!r} is declared twice")
        problems.extend(_field_problems(spiff_field, set(ids)))
    return sorted(set(problems), key=problems.index)


def _field_problems(spiff_field: Any, field_ids: set[str]) -> list[str]:
    fid = spiff_field.id
    problems = []
    if not fid or not fid.isidentifier():
        problems.append(f"form field id {fid!r} is not a valid identifier")
    if spiff_field.type not in FIELD_TYPES:
        problems.append(f"form field {fid!r} has unknown type {spiff_field.type!r}")
    if spiff_field.type == "enum" and not getattr(spiff_field, "options", None):
        problems.append(f"enum field {fid!r} has no values")
    problems.extend(_condition_problems(fid, {p.id: p.value for p in spiff_field.properties}, field_ids))
    for rule in spiff_field.validation:
        if rule.name not in CONSTRAINTS:
            problems.append(f"form field {fid!r} has unknown constraint {rule.name!r}")
        elif rule.name in ("minlength", "maxlength", "min", "max"):
            try:
                float(rule.config)
            except (TypeError, ValueError):
                problems.append(f"constraint {rule.name} of {fid!r} is not a number: {rule.config!r}")
    return problems


def _condition_problems(fid: str, properties: dict[str, str], field_ids: set[str]) -> list[str]:
    """Rules naming another field (required_if, shown_if) or a fact (only_when) that do not exist."""
    problems = []
    for name in ("required_if", "shown_if"):
        rule = properties.get(name)
        condition = RequiredIf.parse(rule)
        if rule is not None and (condition is None or condition.other not in field_ids):
            problems.append(f"{name} of {fid!r} names no field of this form: {rule!r}")
    if "only_when" in properties and properties["only_when"] not in FACTS:
        problems.append(f"only_when of {fid!r} names no known fact: {properties['only_when']!r} "
                        f"(known: {', '.join(FACTS)})")
    return problems


def _blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


class _Invalid(ValueError):
    """A submitted value that does not fit its field: a code and a zh-CN message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _clean_string(spec: FieldSpec, value: Any) -> str:
    text = str(value).strip()
    if "maxlength" in spec.limits and len(text) > spec.limits["maxlength"]:
        raise _Invalid("too_long", f"{spec.label}不能超过{int(spec.limits['maxlength'])}个字")
    if "minlength" in spec.limits and len(text) < spec.limits["minlength"]:
        raise _Invalid("too_short", f"{spec.label}至少{int(spec.limits['minlength'])}个字")
    return text


def _clean_enum(spec: FieldSpec, value: Any) -> str:
    if value not in [option_id for option_id, _ in spec.options]:
        raise _Invalid("not_an_option", f"{spec.label}的取值无效")
    return str(value)


def _clean_boolean(spec: FieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "on", "yes"):
        return True
    if text in ("false", "0", "off", "no"):
        return False
    raise _Invalid("not_a_boolean", f"{spec.label}应为是或否")


def _clean_date(spec: FieldSpec, value: Any) -> str:
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise _Invalid("not_a_date", f"{spec.label}应为日期（YYYY-MM-DD）") from None


def _clean_number(spec: FieldSpec, value: Any) -> int | float:
    kind = "整数" if spec.type == "long" else "数字"
    if spec.type == "long" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON's 5.0 is the integer 5 (as JSON Schema's "integer" says)
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number: int | float = int(str(value).strip()) if spec.type == "long" else float(str(value).strip())
    except ValueError:
        raise _Invalid("not_a_number", f"{spec.label}应为{kind}") from None
    if not math.isfinite(number):
        raise _Invalid("not_a_number", f"{spec.label}应为有限数字")
    if "min" in spec.limits and number < spec.limits["min"]:
        raise _Invalid("too_small", f"{spec.label}不能小于{spec.limits['min']:g}")
    if "max" in spec.limits and number > spec.limits["max"]:
        raise _Invalid("too_large", f"{spec.label}不能大于{spec.limits['max']:g}")
    return number


def _clean_files(spec: FieldSpec, value: Any) -> list[str]:
    hashes = [value] if isinstance(value, str) else value
    if not isinstance(hashes, list) or not all(isinstance(h, str) and _is_sha256(h) for h in hashes):
        raise _Invalid("not_a_file", f"{spec.label}应为已上传的文件")
    if "max" in spec.limits and len(hashes) > spec.limits["max"]:
        raise _Invalid("too_many_files", f"{spec.label}最多{int(spec.limits['max'])}个文件")
    return list(dict.fromkeys(hashes))


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


_CLEANERS = {"string": _clean_string, "enum": _clean_enum, "boolean": _clean_boolean, "date": _clean_date,
             "long": _clean_number, "double": _clean_number, "file": _clean_files}


def _with_defaults(form: FormSpec, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with each blank field that declares a default holding it."""
    return {**{f.id: f.default for f in form.fields if f.default not in (None, "") and _blank(data.get(f.id))},
            **{k: v for k, v in data.items() if not _blank(v)}}


def validate_submission(form: FormSpec, data: dict[str, Any]) -> dict[str, Any]:
    """Check `data` against `form`; return the cleaned values or raise FormValidationError.

    A field left blank takes the default the form declares (camunda:formField defaultValue).
    """
    errors: list[FieldError] = []
    declared = {f.id: f for f in form.fields}
    withheld = {f.id: f for f in form.withheld}
    for key in data:
        if key in withheld:
            if not _blank(data[key]):
                errors.append(FieldError(key, "not_applicable", f"{withheld[key].label}此时不适用，无需填写",
                                         withheld[key].label))
        elif key not in declared:
            errors.append(FieldError(key, "unknown_field", f"表单中没有字段“{key}”", key))
    data = {k: v for k, v in data.items() if k not in withheld}
    given = _with_defaults(form, data)
    cleaned: dict[str, Any] = {}
    for spec in form.fields:
        value = given.get(spec.id)
        if _blank(value):
            if form.requires(spec, given):
                errors.append(FieldError(spec.id, "required", f"{spec.label}为必填项", spec.label))
            continue
        try:
            cleaned[spec.id] = _CLEANERS[spec.type](spec, value)
        except _Invalid as problem:
            errors.append(FieldError(spec.id, problem.code, problem.message, spec.label))
    if errors:
        raise FormValidationError(errors)
    return cleaned
