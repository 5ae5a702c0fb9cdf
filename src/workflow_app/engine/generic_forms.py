"""A form for a user task whose model declares none (models drawn elsewhere).

A person completing such a task usually decides something the next exclusive gateway
routes on: `approved == True`, `decision in ("rework", "scrap")`, `amount > 1000`. The
names those conditions read (and that nothing earlier in the model sets) become required
fields, typed by the constants they are compared with: booleans → a checkbox, text → a
choice among the values the conditions name, numbers → a number. Every generic form
also has an optional comment so the person can say why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway

from .forms import FieldSpec, FormSpec

COMMENT = FieldSpec(id="comment", label="办理意见", type="string", properties={"multiline": "true"},
                    limits={"maxlength": 2000})
BUILTIN_NAMES = frozenset({"True", "False", "None", "len", "str", "int", "float", "bool", "any", "all"})


def generic_form(task_spec: Any, taken: set[str]) -> FormSpec:
    """The inferred form of `task_spec`: the decisions its next gateway needs, plus a comment.

    `taken` are names the model already sets elsewhere (declared form fields, script
    assignments): asking for them again would overwrite them.
    """
    expressions = [condition.args[0] for gateway in _next_gateways(task_spec)
                   for condition, _target in gateway.cond_task_specs if condition is not None]
    fields = [spec for spec in decision_fields(expressions) if spec.id not in taken and spec.id != COMMENT.id]
    return FormSpec(key="generic", fields=(*fields, COMMENT))


def _next_gateways(task_spec: Any) -> Iterable[ExclusiveGateway]:
    return [out for out in task_spec.outputs if isinstance(out, ExclusiveGateway)]


def decision_fields(expressions: list[str]) -> list[FieldSpec]:
    """One required field per variable the expressions read, typed by what it is compared with."""
    constants: dict[str, list[Any]] = {}
    for text in expressions:
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError:
            continue
        called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in BUILTIN_NAMES and id(node) not in called:
                constants.setdefault(node.id, [])
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
                for comparator in node.comparators:
                    constants.setdefault(node.left.id, []).extend(_constants(comparator))
    return [_field(name, values) for name, values in constants.items()]


def _constants(node: ast.expr) -> list[Any]:
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return [item.value for item in items if isinstance(item, ast.Constant)]


def _field(name: str, values: list[Any]) -> FieldSpec:
    if not values or all(isinstance(v, bool) for v in values):
        return FieldSpec(id=name, label=name, type="boolean", required=True)
    if all(isinstance(v, str) for v in values):
        options = tuple((v, v) for v in dict.fromkeys(values))
        return FieldSpec(id=name, label=name, type="enum", required=True, options=options)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        kind = "long" if all(isinstance(v, int) for v in values) else "double"
        return FieldSpec(id=name, label=name, type=kind, required=True)
    return FieldSpec(id=name, label=name, type="string", required=True)


def assigned_names(scripts: Iterable[str]) -> set[str]:
    """Names that scripts assign (they come from the model, not from a person)."""
    names: set[str] = set()
    for script in scripts:
        try:
            tree = ast.parse(script or "")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names
