"""Load and validate BPMN process models.

A model is refused with a ModelError naming the file, the element id and the fault when
it is not well-formed XML, does not satisfy the BPMN 2.0 schema, cannot be parsed by
SpiffWorkflow, or breaks a rule this application needs: every user task sits in a lane
(the lane says which role acts), every expression compiles, every form is well formed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    ReceiveTask,
    SendTask,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEndEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import assignment, camunda_expressions
from .errors import ModelError
from .forms import FormSpec, check_form, form_from_spiff
from .generic_forms import assigned_names, generic_form
from .sandbox import check_source
from .service_tasks import NamedServiceTask, ServiceTaskParser
from .timers import CLOCKED_TIMERS


class FormStartEvent(StartEvent):
    """A start event that declares the form its process is started with (the report)."""

    def __init__(self, wf_spec: Any, bpmn_id: str, event_definition: Any, form: Any = None, **kwargs: Any):
        super().__init__(wf_spec, bpmn_id, event_definition, **kwargs)
        self.form = form


class _ClockedEventMixin:
    """Swaps SpiffWorkflow's timer definitions for clocked ones; reads camunda:properties."""

    parse_extensions = CamundaTaskParser.parse_extensions

    def parse_timer_event(self, event: Any) -> Any:
        definition = super().parse_timer_event(event)  # type: ignore[misc]
        clocked = CLOCKED_TIMERS[type(definition)]
        return clocked(definition.name, definition.expression, description=definition.description)


class _StartEventParser(_ClockedEventMixin, CamundaStartEventParser):
    get_form = UserTaskParser.get_form
    get_enum_field = UserTaskParser.get_enum_field

    def create_task(self) -> Any:
        task = super().create_task()
        task.form = self.get_form()
        return task


class _BoundaryEventParser(_ClockedEventMixin, CamundaBoundaryEventParser):
    pass


class _EndEventParser(_ClockedEventMixin, CamundaEndEventParser):
    pass


class _CatchEventParser(_ClockedEventMixin, CamundaIntermediateCatchEventParser):
    pass


class ModelParser(CamundaParser):
    """CamundaParser with clocked timers, start-event forms and event properties."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_StartEventParser, FormStartEvent),
        full_tag("boundaryEvent"): (_BoundaryEventParser, BoundaryEvent),
        full_tag("endEvent"): (_EndEventParser, EndEvent),
        full_tag("intermediateCatchEvent"): (_CatchEventParser, IntermediateCatchEvent),
        full_tag("serviceTask"): (ServiceTaskParser, NamedServiceTask),
        full_tag("task"): (UserTaskParser, UserTask),  # a plain or manual task: a person confirms it is done
        full_tag("manualTask"): (UserTaskParser, UserTask),
    }


_VALIDATOR: BpmnValidator | None = None


def _schema_validator() -> BpmnValidator:
    global _VALIDATOR  # the XSD takes ~100 ms to load: load it once per process
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()
    return _VALIDATOR


@dataclass
class ProcessModel:
    """A parsed, validated process: the spec SpiffWorkflow runs plus our view of it."""

    process_id: str
    name: str
    file_name: str
    spec: Any
    subprocess_specs: dict[str, Any] = field(default_factory=dict)
    forms: dict[str, FormSpec] = field(default_factory=dict)
    source: str = ""
    """The document as text (decoded from its declared encoding); empty for a model restored from its spec."""
    warnings: list[str] = field(default_factory=list)
    """What deploy accepted but the deployer should know (e.g. a Camunda form replaced by a generic one)."""

    @property
    def start_form(self) -> FormSpec:
        """The form the process is started with (empty when the start event declares none)."""
        return self.forms.get(self.start_event_id, FormSpec(key=""))

    @property
    def start_event_id(self) -> str:
        """The bpmn id of the process's start event."""
        start = self.spec.start.outputs[0]
        return str(start.bpmn_id or start.name)

    def user_task_lanes(self) -> dict[str, str]:
        """bpmn id → lane name of every user task (the lanes that must map to roles)."""
        return {t.bpmn_id: t.lane for t in _task_specs(self.spec, self.subprocess_specs)
                if isinstance(t, UserTask) and t.lane}

    def service_names(self) -> dict[str, str]:
        """bpmn id → the service name of every service task."""
        return {t.bpmn_id: t.service_name for t in _task_specs(self.spec, self.subprocess_specs)
                if isinstance(t, NamedServiceTask)}

    def task_properties(self, bpmn_id: str) -> dict[str, str]:
        """The camunda:properties of one element of the process (empty if it has none).

        A multi-instance task is two specs with one bpmn id (the loop and its child): merge both.
        """
        properties: dict[str, str] = {}
        for spec in self.spec.task_specs.values():
            if spec.bpmn_id == bpmn_id:
                properties.update(getattr(spec, "extensions", None) or {})
        return properties


MAX_FLOW_ELEMENTS = 20_000
"""More elements than this in one document are refused: split the model with call activities."""


def load_model(xml: bytes | str, file_name: str, process_id: str | None = None,
               default_lane: str | None = None) -> ProcessModel:
    """Parse and validate one BPMN document; raise ModelError on any fault.

    `default_lane`: the lane of tasks the model puts in none (a model drawn without lanes)."""
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    parsed = _parse_documents([(file_name, raw)], default_lane)
    chosen = process_id or _only_executable_process(parsed.parser, file_name)
    return _model(parsed, chosen, file_name)


def load_bundle(files: list[tuple[str, bytes]], default_lane: str | None = None) -> list[ProcessModel]:
    """Parse and validate several documents deployed together, where processes call each other (call
    activities); one model per process no other one calls, carrying the processes it calls."""
    parsed = _parse_documents(files, default_lane)
    called = {element.get("calledElement") for document in parsed.documents.values()
              for element in document.iterfind(".//bpmn:callActivity", BPMN_NS)}
    roots = [pid for pid in parsed.parser.get_process_ids() if pid not in called]
    names = ", ".join(name for name, _ in files)
    if not roots:
        raise ModelError(names, None, "every executable process is called by another: nothing to start")
    return [_model(parsed, root, parsed.file_of.get(root, names)) for root in roots]


@dataclass
class _Parsed:
    """Documents read into one SpiffWorkflow parser (so call activities find the processes they call)."""

    parser: ModelParser
    documents: dict[str, Any]
    raws: dict[str, bytes]
    file_of: dict[str, str]
    warnings: list[str]


def _parse_documents(files: list[tuple[str, bytes]], default_lane: str | None) -> _Parsed:
    parsed = _Parsed(ModelParser(validator=_schema_validator()), {}, {}, {}, [])
    for file_name, raw in files:
        document = _document(raw, file_name)
        camunda_expressions.normalise(document, file_name)
        parsed.warnings += assignment.assign(document, file_name, default_lane)
        _check_sequence_flows(document, file_name)
        _check_reserved_ids(document, file_name)
        _allow_deep_chains(document, file_name)
        try:
            parsed.parser.add_bpmn_xml(etree.ElementTree(document), filename=file_name)
        except ValidationException as exc:
            raise _model_error(exc, file_name) from exc
        parsed.documents[file_name], parsed.raws[file_name] = document, raw
        for process in document.iterfind("bpmn:process", BPMN_NS):
            parsed.file_of[process.get("id")] = file_name
    return parsed


def _model(parsed: _Parsed, process_id: str, file_name: str) -> ProcessModel:
    try:
        spec = parsed.parser.get_spec(process_id)
        subprocess_specs = parsed.parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        raise _model_error(exc, exc.file_name or file_name) from exc
    except SpiffWorkflowException as exc:
        raise ModelError(file_name, None, str(exc)) from exc
    for task_spec in _task_specs(spec, subprocess_specs):
        _check_task_spec(task_spec, getattr(task_spec, "file", None) or file_name)
    model = model_from_specs(spec, subprocess_specs, file_name)
    model.source = _text(parsed.raws[file_name], parsed.documents[file_name]) if file_name in parsed.raws else ""
    model.warnings = list(parsed.warnings)
    return model


def _model_error(exc: ValidationException, file_name: str) -> ModelError:
    return ModelError(file_name, exc.id or None, str(exc.args[0] if exc.args else exc),
                      int(exc.line_number) if exc.line_number else None)


def _document(raw: bytes, file_name: str) -> Any:
    """The parsed document: its declared encoding honoured, no DTD, no entity, nothing fetched."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        document = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        if "encoding" in exc.msg.lower() or b"\x00" in raw[:200]:
            raise ModelError(file_name, None, f"file encoding not readable ({exc.msg}): save the model as UTF-8, "
                                              "or declare its encoding in the XML declaration") from exc
        raise ModelError(file_name, None, f"not well-formed XML: {exc.msg}", exc.lineno) from exc
    if document.getroottree().docinfo.doctype:
        raise ModelError(file_name, None, "DTDs/entities are not allowed in a model (remove the <!DOCTYPE …>)")
    return document


def _text(raw: bytes, document: Any) -> str:
    """The document as text: UTF-8 files verbatim, others re-serialised (their declaration named another encoding)."""
    if document.getroottree().docinfo.encoding.upper() in ("UTF-8", "UTF8"):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return str(etree.tostring(document, encoding="unicode"))


def _allow_deep_chains(document: Any, file_name: str) -> None:
    """SpiffWorkflow's parser follows sequence flows recursively, a few frames per element: a long chain needs a
    deeper stack than Python's default 1,000 frames. Pure-Python calls do not use the C stack on 3.11+, so the
    limit is raised for the model's size (never lowered: another thread may be deep in a parse), within a cap."""
    elements = sum(1 for _ in document.iterfind(".//bpmn:process//*[@id]", BPMN_NS))
    if elements > MAX_FLOW_ELEMENTS:
        raise ModelError(file_name, None, f"{elements} elements: more than {MAX_FLOW_ELEMENTS:,} in one model; "
                                          "split it with call activities")
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1_000 + 4 * elements))


def model_from_specs(spec: Any, subprocess_specs: dict[str, Any], file_name: str) -> ProcessModel:
    """Wrap specs that were already validated (e.g. restored from a stored version)."""
    model = ProcessModel(
        process_id=spec.name, name=spec.description or spec.name, file_name=file_name,
        spec=spec, subprocess_specs=subprocess_specs,
    )
    specs = _task_specs(spec, subprocess_specs)
    for task_spec in specs:
        form = getattr(task_spec, "form", None)
        if isinstance(task_spec, UserTask | FormStartEvent) and form is not None and form.fields:
            model.forms[task_spec.bpmn_id] = form_from_spiff(form)
    taken = {f.id for form in model.forms.values() for f in form.fields}
    taken |= assigned_names(s.script for s in specs if isinstance(s, ScriptTask))
    for task_spec in specs:
        if isinstance(task_spec, UserTask) and task_spec.bpmn_id not in model.forms:
            model.forms[task_spec.bpmn_id] = generic_form(task_spec, taken)
    return model


BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def _check_sequence_flows(document: Any, file_name: str) -> None:
    """Every sequence flow must start and end at an element of its own process."""
    for process in document.iterfind(".//bpmn:process", BPMN_NS):
        ids = {element.get("id") for element in process.iter() if element.get("id")}
        for flow in process.iterfind(".//bpmn:sequenceFlow", BPMN_NS):
            for end in ("sourceRef", "targetRef"):
                if flow.get(end) not in ids:
                    raise ModelError(file_name, flow.get("id"),
                                     f"sequence flow {end} {flow.get(end)!r} names no element of the process",
                                     flow.sourceline)


RESERVED_IDS = ("Start", "End", "Root")
"""Names SpiffWorkflow gives its own task specs: an element with one of them replaces the engine's and the
process silently never starts (with ``<process>.EndJoin``)."""


def _check_reserved_ids(document: Any, file_name: str) -> None:
    for element in document.iterfind(".//bpmn:process//*[@id]", BPMN_NS):
        element_id = element.get("id")
        if element_id in RESERVED_IDS or element_id.endswith(".EndJoin"):
            raise ModelError(file_name, element_id, f"the id {element_id!r} is reserved by the engine: "
                                                    "rename the element (e.g. StartEvent_1)", element.sourceline)


def _only_executable_process(parser: ModelParser, file_name: str) -> str:
    ids = parser.get_process_ids()
    if len(ids) != 1:
        raise ModelError(file_name, None, f"expected exactly one executable process, found {len(ids)}: {ids}")
    return str(ids[0])


def _task_specs(spec: Any, subprocess_specs: dict[str, Any]) -> list[Any]:
    specs = list(spec.task_specs.values())
    for sub in subprocess_specs.values():
        specs.extend(sub.task_specs.values())
    return [s for s in specs if getattr(s, "bpmn_id", None)]


def _check_task_spec(task_spec: Any, file_name: str) -> None:
    """Rules SpiffWorkflow does not enforce but we rely on; raise ModelError on the first."""
    for check in (_check_lane, _check_form, _check_expressions, _check_service, _check_messages):
        problem = check(task_spec)
        if problem:
            raise ModelError(file_name, task_spec.bpmn_id, problem)


def _check_lane(task_spec: Any) -> str | None:
    if isinstance(task_spec, UserTask) and not task_spec.lane:
        return "user task is not in a lane: no role could act on it (deploy with --default-role ROLE, or draw lanes)"
    return None


def _check_messages(task_spec: Any) -> str | None:
    if isinstance(task_spec, SendTask | ReceiveTask) or isinstance(
            getattr(task_spec, "event_definition", None), MessageEventDefinition):
        return ("messages are not supported (send/receive tasks, message events): nothing outside delivers them "
                "to this engine; use a user task, a timer or a signal")
    return None


def _check_service(task_spec: Any) -> str | None:
    if isinstance(task_spec, NamedServiceTask) and not task_spec.service_name:
        return "service task names no service: add camunda:topic or a camunda property 'service'"
    return None


def _check_form(task_spec: Any) -> str | None:
    form = getattr(task_spec, "form", None)
    if isinstance(task_spec, UserTask | FormStartEvent) and form is not None:
        return "; ".join(check_form(form)) or None
    return None


def _expressions(task_spec: Any) -> list[tuple[str, str, str]]:
    """(what, source, mode) of every expression the engine would evaluate for this task spec."""
    found: list[tuple[str, str, str]] = []
    if isinstance(task_spec, ScriptTask):
        found.append(("script", task_spec.script or "", "exec"))
    for condition, _target in getattr(task_spec, "cond_task_specs", None) or []:
        if condition is not None:
            found.append(("condition", condition.args[0], "eval"))
    for attribute in ("cardinality", "condition"):  # multi-instance loops
        value = getattr(task_spec, attribute, None)
        if isinstance(value, str) and value:
            found.append((f"loop {attribute}", value, "eval"))
    expression = getattr(getattr(task_spec, "event_definition", None), "expression", None)
    if isinstance(expression, str) or isinstance(getattr(task_spec, "event_definition", None), TimerEventDefinition):
        kind = "timer expression" if isinstance(task_spec.event_definition, TimerEventDefinition) else "condition"
        found.append((kind, expression or "", "eval"))
    return found


def _check_expressions(task_spec: Any) -> str | None:
    """Every expression must pass the sandbox's policy: what deploys is what runs."""
    for what, source, mode in _expressions(task_spec):
        problem = check_source(source, mode)
        if problem:
            return f"{what} {problem}"
    return None
