"""The engine layer: SpiffWorkflow and nothing else of ours (no Flask, no SQL)."""

from .errors import FieldError, FormValidationError, ModelError, ProcessError, TaskNotReadyError
from .forms import FieldSpec, FormSpec, validate_submission
from .parser import ProcessModel, load_bundle, load_model
from .runtime import FiredTimer, IncidentView, ProcessInstance, StepResult, TimerView, UserTaskView
from .serializer import dump_spec, load_spec
from .service_tasks import register_service

__all__ = [
    "FieldError", "FieldSpec", "FiredTimer", "FormSpec", "FormValidationError", "IncidentView", "ModelError",
    "ProcessError", "ProcessInstance", "ProcessModel", "StepResult", "TaskNotReadyError",
    "TimerView", "UserTaskView", "dump_spec", "load_bundle", "load_model", "load_spec", "register_service",
    "validate_submission",
]
