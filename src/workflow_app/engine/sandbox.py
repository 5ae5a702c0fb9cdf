"""The one environment every model expression and script runs in.

A model is code written by whoever deployed it, and it runs when an enterprise user
advances a case: script tasks, gateway conditions, timer expressions, multi-instance
cardinalities, conditional events all pass through `SandboxEnvironment`. Source is
compiled by RestrictedPython with our policy on top (no imports, no names or attributes
starting with ``_``, no try/with/class/global, no builtin outside `SAFE_BUILTINS`, only
the attributes `ATTRIBUTES` allows per type), and runs with guards that bound what one
expression may cost: sequences and numbers it may build, and lines and seconds it may
run. Deploy (parser.py) checks every expression with `check_source`, the same policy
that runs, so what deploys is what runs.
"""

from __future__ import annotations

import ast
import builtins
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache, partial
from types import CodeType, FrameType
from typing import Any

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment

MODEL_FILENAME = "<model>"
MAX_ITEMS = 1_000_000
"""Longest string, list or range an expression may build."""
MAX_INT_BITS = 4_096
"""Largest integer an expression may build by ``**`` or ``<<``."""
MAX_LINES = 1_000_000
"""Lines one expression or script may run (loops included, helper functions too)."""
MAX_SECONDS = 1.0
"""Wall-clock time one expression or script may run."""
MAX_GROWTH_BYTES = 256 * 1024 * 1024
"""How much the process may grow while one expression runs (a loop building big values)."""
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class SandboxError(Exception):
    """An expression did something models may not do; the task fails and waits as an incident."""


def _bounded_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_ITEMS:
        raise SandboxError(f"range of {len(span)} items exceeds the limit of {MAX_ITEMS}")
    return span


def _numeric_sum(values: Iterable[Any], start: int | float = 0) -> Any:
    if not isinstance(start, int | float):
        raise SandboxError("sum() adds numbers only")
    return sum(values, start)


SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "enumerate": enumerate, "float": float,
    "int": int, "isinstance": isinstance, "len": len, "list": list, "max": max, "min": min,
    "range": _bounded_range, "reversed": reversed, "round": round, "set": set, "sorted": sorted, "str": str,
    "sum": _numeric_sum, "tuple": tuple, "zip": zip, "date": date, "datetime": datetime, "timedelta": timedelta,
    "None": None, "True": True, "False": False,
}
"""The builtins a model may name; everything else Python offers is refused."""

FORBIDDEN_NAMES = frozenset(dir(builtins)) - set(SAFE_BUILTINS)
"""Python's builtins a model may not name (open, eval, getattr, __import__ ...): refused at deploy."""

_STR = {"capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isdecimal",
        "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "lower", "lstrip",
        "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit",
        "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper"}
_DATE = {"year", "month", "day", "weekday", "isoweekday", "isoformat", "isocalendar"}
ATTRIBUTES: dict[type, frozenset[str]] = {
    str: frozenset(_STR),
    list: frozenset({"append", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"}),
    dict: frozenset({"copy", "get", "items", "keys", "pop", "setdefault", "update", "values"}),
    set: frozenset({"add", "copy", "difference", "discard", "intersection", "issubset", "issuperset", "remove",
                    "union"}),
    tuple: frozenset({"count", "index"}),
    float: frozenset({"is_integer"}),
    date: frozenset(_DATE),
    datetime: frozenset(_DATE | {"hour", "minute", "second", "date", "astimezone", "timestamp"}),
    timedelta: frozenset({"days", "seconds", "total_seconds"}),
}
"""Per type of value, the attributes a model may read (methods included); exact types only."""
CLASS_ATTRIBUTES: dict[type, frozenset[str]] = {
    date: frozenset({"fromisoformat"}), datetime: frozenset({"fromisoformat"}),
}
ALLOWED_ATTRIBUTE_NAMES = frozenset().union(*ATTRIBUTES.values(), *CLASS_ATTRIBUTES.values())
"""Every attribute name some value allows: deploy refuses any other."""


def _check_length(length: int) -> None:
    if length > MAX_ITEMS:
        raise SandboxError(f"a value of {length} items exceeds the limit of {MAX_ITEMS}")


def _bounded_replace(text: str, old: str, new: str, count: int = -1) -> str:
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if count >= 0:
        occurrences = min(occurrences, count)
    _check_length(len(text) + occurrences * (len(new) - len(old)))
    return text.replace(old, new, count)


def _bounded_extend(items: list[Any], more: Iterable[Any]) -> None:
    more = list(more)
    _check_length(len(items) + len(more))
    items.extend(more)


_WRAPPED: dict[tuple[type, str], Callable[..., Any]] = {
    (str, "replace"): _bounded_replace, (list, "extend"): _bounded_extend,
}


def _getattr(value: Any, name: str) -> Any:
    if isinstance(value, type) and name in CLASS_ATTRIBUTES.get(value, ()):
        return getattr(value, name)
    if name not in ATTRIBUTES.get(type(value), ()):
        raise SandboxError(f"attribute {name!r} of {type(value).__name__} is not allowed in models")
    wrapper = _WRAPPED.get((type(value), name))
    return partial(wrapper, value) if wrapper else getattr(value, name)


def _write(value: Any) -> Any:
    """Item assignment (``d[k] = v``) on a list, dict or set; attribute writes are refused."""
    if type(value) in (list, dict, set):
        return value
    raise SandboxError(f"a {type(value).__name__} cannot be changed in models")


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
    "%": operator.mod, "**": operator.pow, "<<": operator.lshift, ">>": operator.rshift, "&": operator.and_,
    "|": operator.or_, "^": operator.xor, "@": operator.matmul,
}
_SIZED = (str, bytes, list, tuple)
_WIDE_FORMAT = re.compile(r"%[-#0 +]*(\*|\d{5,})|%[-#0 +]*\d*\.(\*|\d{5,})")


def _too_many_bits(symbol: str, left: Any, right: Any) -> bool:
    if not (isinstance(left, int) and isinstance(right, int)):
        return False
    if symbol == "**":
        return abs(left) > 1 and right * left.bit_length() > MAX_INT_BITS
    return symbol == "<<" and right > MAX_INT_BITS


def _check_operands(symbol: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would exceed the limits, before it is computed."""
    if symbol == "*":
        for sized, times in ((left, right), (right, left)):
            if isinstance(sized, _SIZED) and isinstance(times, int):
                _check_length(len(sized) * times)
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SandboxError(f"a number beyond {MAX_INT_BITS} bits is not allowed in models")
    elif symbol == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
        _check_length(len(left) + len(right))
    elif _too_many_bits(symbol, left, right):
        raise SandboxError(f"a number beyond {MAX_INT_BITS} bits is not allowed in models")
    elif symbol == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
        raise SandboxError("a format width of five digits or '*' is not allowed in models")


def _binop(symbol: str, left: Any, right: Any) -> Any:
    _check_operands(symbol, left, right)
    return _OPERATORS[symbol](left, right)


def _inplacevar(symbol: str, left: Any, right: Any) -> Any:
    return _binop(symbol.rstrip("="), left, right)


GUARDS: dict[str, Any] = {
    "_getattr_": _getattr, "_getitem_": operator.getitem, "_getiter_": iter, "_write_": _write,
    "_inplacevar_": _inplacevar, "_binop_": _binop, "_apply_": lambda fn, *args, **kwargs: fn(*args, **kwargs),
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "__builtins__": SAFE_BUILTINS,
}
"""What RestrictedPython's rewritten code calls; a model cannot name or replace these."""

_GUARDED_OPERATORS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
_FORBIDDEN_STATEMENTS = {
    ast.Try: "try", ast.TryStar: "try", ast.With: "with", ast.AsyncWith: "with", ast.Global: "global",
    ast.Nonlocal: "nonlocal", ast.ClassDef: "class", ast.Import: "import", ast.ImportFrom: "import",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Await: "await", ast.AsyncFunctionDef: "async def",
}
_SHORT_FORMAT_SPEC = re.compile(r"^[^{}]{0,3}\d{0,4}(\.\d{0,4})?[a-zA-Z%]?$")


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, narrowed to what process models need."""

    def visit(self, node: ast.AST) -> Any:
        statement = _FORBIDDEN_STATEMENTS.get(type(node))
        if statement:
            self.error(node, f'"{statement}" is not allowed in models')
            return node
        return super().visit(node)

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in FORBIDDEN_NAMES:
            self.error(node, f'name "{node.id}" is not allowed in models')
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if not node.attr.startswith("_") and node.attr not in ALLOWED_ATTRIBUTE_NAMES:
            self.error(node, f'attribute "{node.attr}" is not allowed in models')
        return super().visit_Attribute(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        text = "".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant)) if spec else ""
        if spec is not None and (not all(isinstance(v, ast.Constant) for v in spec.values) or  # type: ignore[attr-defined]
                                 not _SHORT_FORMAT_SPEC.match(text)):
            self.error(node, f'format "{text}" is not allowed in models (a fixed width of up to four digits is)')
            return node
        return super().visit_FormattedValue(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        symbol = _GUARDED_OPERATORS.get(type(node.op))
        if symbol is None:
            return node
        name, operator_symbol = ast.Name("_binop_", ast.Load()), ast.Constant(symbol)
        call = ast.Call(func=name, args=[operator_symbol, node.left, node.right], keywords=[])
        for new in (name, operator_symbol, call):
            ast.copy_location(new, node)
        return call


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> CodeType:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source, filename=MODEL_FILENAME, policy=SandboxPolicy)
    if result.errors or result.code is None:
        raise SandboxError("; ".join(result.errors))
    return result.code


def check_source(source: str, mode: str) -> str | None:
    """Why `source` would not run ("does not compile: …" or "refused: …"), or None when it may.

    `mode` is "eval" for an expression, "exec" for a script.
    """
    try:
        compile(source, MODEL_FILENAME, mode)
    except SyntaxError as exc:
        return f"does not compile: {exc.msg} in {source!r}"
    try:
        _compile(source, mode)
    except SandboxError as exc:
        return f"refused: {exc}"
    return None


def _resident_bytes() -> int:
    """The process's resident memory (Linux /proc); 0 where it cannot be read, which turns the check off."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


class _Budget:
    """Stops the running expression when it has run too many lines, too long, or grown the process too much.

    A trace function sees every line of the model's own code (its loops, comprehensions,
    lambdas); every 16th line it also checks the clock and the memory. Our helper functions
    are not traced (tracing them would slow every timer) and bound their own arguments; C
    code (one big builtin call) is bounded by the size limits above.
    """

    def __init__(self) -> None:
        self.lines = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.memory_at_start = 0

    def enter(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        """The global trace function: trace the lines of frames of model code, and no others."""
        return self.trace if frame.f_code.co_filename == MODEL_FILENAME else None

    def trace(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        if event == "line":
            self.lines += 1
            if self.lines > MAX_LINES or (self.lines % 16 == 0 and self._exhausted()):
                raise SandboxError(f"stopped after {self.lines} lines: a model expression may run at most "
                                   f"{MAX_SECONDS:g} s and {MAX_LINES} lines, and grow memory by at most "
                                   f"{MAX_GROWTH_BYTES // (1024 * 1024)} MB")
        return self.trace

    def _exhausted(self) -> bool:
        if time.monotonic() > self.deadline:
            return True
        if not self.memory_at_start:
            self.memory_at_start = _resident_bytes()  # read once a loop runs: one-liners never pay for it
            return False
        return _resident_bytes() - self.memory_at_start > MAX_GROWTH_BYTES

    def run(self, code: CodeType, scope: dict[str, Any]) -> Any:
        previous = sys.gettrace()
        sys.settrace(self.enter)
        try:
            return eval(code, scope)  # compiled by RestrictedPython with SandboxPolicy
        finally:
            sys.settrace(previous)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, with every expression run in the sandbox."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]]):
        super().__init__(dict(functions))

    def _scope(self, context: Mapping[str, Any], external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**self.globals, **(external_context or {}), **context, **GUARDS}

    def evaluate(self, expression: str, context: dict[str, Any],
                 external_context: dict[str, Any] | None = None) -> Any:
        """The value of `expression` over the task data `context`."""
        return _Budget().run(_compile(expression, "eval"), self._scope(context, external_context))

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        """Run `script`; the names it assigns become task data (functions and guards do not)."""
        clashes = (set(self.globals) | set(external_context or {})) & set(context)
        if clashes:
            raise SandboxError(f"task data would hide functions models call: {sorted(clashes)}")
        scope = self._scope(context, external_context)
        _Budget().run(_compile(script, "exec"), scope)
        injected = set(self.globals) | set(external_context or {}) | set(GUARDS)
        context.clear()
        context.update({k: v for k, v in scope.items() if k not in injected and not callable(v)})
        return True
