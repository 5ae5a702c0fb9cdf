"""Service tasks: a BPMN serviceTask calls a named service the application registered.

A model names its service with a camunda property ``service`` or, as Camunda Modeler
writes external tasks, ``camunda:type="external" camunda:topic="…"``. The service gets
the task's data (read-only), the engine's instant and the task's other camunda properties
as parameters (so policy such as a number of working days stays on the diagram), and
returns the values to merge into the data. A service that is unknown or raises fails the task like a failing script
does, so the instance stops in an incident instead of half-running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser

Service = Callable[[Mapping[str, Any], datetime, Mapping[str, str]], dict[str, Any]]

SERVICES: dict[str, Service] = {}
"""Service name → implementation; filled by the application at import time."""


def register_service(name: str) -> Callable[[Service], Service]:
    """Decorator: make `fn` callable from service tasks as `name`."""
    def register(fn: Service) -> Service:
        SERVICES[name] = fn
        return fn
    return register


class NamedServiceTask(ServiceTask):
    """A service task that calls the registered service its model names."""

    @property
    def service_name(self) -> str:
        return str((getattr(self, "extensions", None) or {}).get("service", ""))

    def _execute(self, task: Any) -> bool:
        service = SERVICES.get(self.service_name)
        if service is None:
            raise WorkflowTaskException(f"no service named {self.service_name!r} is registered", task=task)
        engine = task.workflow.script_engine
        now = engine.current_time() if hasattr(engine, "current_time") else datetime.now(UTC)
        try:
            params = {k: v for k, v in (getattr(self, "extensions", None) or {}).items() if k != "service"}
            result = service(MappingProxyType(task.data), now, params)
        except Exception as exc:
            raise WorkflowTaskException(f"{type(exc).__name__}: {exc}", task=task, exception=exc) from exc
        task.data.update(result)
        return True


class ServiceTaskParser(CamundaTaskParser):
    """Reads the service name from camunda:topic when the model has no `service` property."""

    def parse_extensions(self, node: Any = None) -> dict[str, str]:
        extensions: dict[str, str] = super().parse_extensions(node)
        topic = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}topic")
        if topic and "service" not in extensions:
            extensions["service"] = topic
        return extensions
