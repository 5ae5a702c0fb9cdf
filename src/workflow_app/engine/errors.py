"""Errors the engine layer raises; each carries what a person needs to fix the cause."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelError(Exception):
    """A process model that cannot be run: names the file, the element and the fault."""

    file_name: str
    element_id: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file_name
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f" [{self.element_id}]"
        return f"{where}: {self.message}"


@dataclass
class FieldError:
    """One invalid form field: a stable code, its parameters and a default zh-CN message.

    `label` is the field's label as declared (the msgid of its translation), when the raiser knows it.
    """

    field_id: str
    code: str
    message: str
    label: str = ""


class FormValidationError(Exception):
    """Submitted data does not match the form declared in the model."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field_id}: {e.message}" for e in errors))
        self.errors = errors


class TaskNotReadyError(Exception):
    """The task does not exist in this instance or is not waiting for a person."""


class ProcessError(Exception):
    """A script, gateway condition or timer expression failed while the engine ran."""

    def __init__(self, element_id: str, message: str):
        super().__init__(f"[{element_id}] {message}")
        self.element_id = element_id
