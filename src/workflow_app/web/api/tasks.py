"""/api/v1/tasks: my inbox, a task with its form as JSON Schema and ETag, completing it (If-Match)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ...engine import FieldSpec, FormSpec
from ...services import tasks
from ...services.inbox import InboxQuery, inbox_page
from ...store.models import InboxTask, ProcessInstanceRow
from ..context import now, today, unit_of_work
from .context import before_api_call, caller, fields_of, idempotent
from .document import link, operation
from .schemas import CompletedSchema, CompleteSchema, TaskDetailSchema, TaskSchema

blp = Blueprint("api_tasks", __name__, url_prefix="/api/v1", description="Tasks (待办)")
blp.before_request(before_api_call)
TYPES = {"string": {"type": "string"}, "long": {"type": "integer"}, "double": {"type": "number"},
         "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
         "file": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}


class PreconditionFailed(HTTPException):
    code = 412
    description = "the task changed since you read it: get it again and use its new ETag"


class PreconditionRequired(HTTPException):
    code = 428
    description = "send If-Match with the task's ETag (from GET /api/v1/tasks/{task_id})"


def form_schema(form: FormSpec) -> dict[str, Any]:
    """A task's BPMN form as JSON Schema (server validation stays the engine's)."""
    return {"type": "object", "additionalProperties": False,
            "properties": {f.id: _field_schema(f) for f in form.fields},
            "required": [f.id for f in form.fields if f.required]}


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": spec.label, **TYPES.get(spec.type, {"type": "string"})}
    if spec.type == "enum":
        schema["enum"] = [option for option, _ in spec.options]
    for limit, key in (("maxlength", "maxLength"), ("minlength", "minLength"), ("min", "minimum"),
                       ("max", "maximum")):
        if limit in spec.limits:
            schema["maxItems" if spec.type == "file" and limit == "max" else key] = spec.limits[limit]
    return schema


def _etag(session: Any, task: InboxTask) -> str:
    row = session.get(ProcessInstanceRow, task.instance_id)
    return f'"{task.instance_id}-{row.version}"'


@blp.route("/tasks")
class Tasks(MethodView):
    @operation("list_my_tasks", "List my open tasks",
               links={200: {"get_task": link("get_task", task_id="$response.body#/0/task_id")}})
    @blp.response(200, TaskSchema(many=True))
    def get(self) -> list[InboxTask]:
        """The caller's open tasks (their organisation's, unclaimed or claimed by them), earliest due first."""
        with unit_of_work() as session:
            page = inbox_page(session, caller(), InboxQuery(per_page=200), today())
        return [task for task, _, _ in page.rows]


@blp.route("/tasks/<task_id>")
class TaskDetail(MethodView):
    @operation("get_task", "Get a task with its form and ETag", [404],
               links={200: {"complete_task": link("complete_task", task_id="$request.path.task_id",
                                                  **{"header.If-Match": "$response.header.ETag"})}})
    @blp.response(200, TaskDetailSchema, headers={"ETag": {"$ref": "#/components/headers/ETag"}})
    def get(self, task_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A task the caller may act on, its form as JSON Schema, and its ETag for If-Match."""
        with unit_of_work() as session:
            task, form = tasks.task_form(session, caller(), task_id, today())
            etag = _etag(session, task)
        return {**fields_of(task, TaskSchema), "form": form_schema(form), "etag": etag}, 200, {"ETag": etag}


@blp.route("/tasks/<task_id>/complete")
class Complete(MethodView):
    @operation("complete_task", "Complete a task (If-Match)", [400, 403, 404, 409, 412, 422, 428, 500],
               headers=["If-Match"])
    @blp.arguments(CompleteSchema)
    @blp.response(200, CompletedSchema)
    def post(self, body: dict[str, Any], task_id: str) -> Response:
        """Complete a task with data validated exactly like the web form; needs If-Match."""
        def work(session: Any) -> tuple[dict[str, Any], int]:
            task, _ = tasks.task_form(session, caller(), task_id, today())
            expected = request.headers.get("If-Match")
            if not expected:
                raise PreconditionRequired()
            if expected.strip() != _etag(session, task):
                raise PreconditionFailed()
            tasks.complete_task(session, caller(), task_id, body["data"], now())
            return {"task_id": task_id, "status": "completed"}, 200
        return idempotent(work)
