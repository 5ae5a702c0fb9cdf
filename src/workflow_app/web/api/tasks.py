"""/api/v1/tasks: my inbox, a task with its form as JSON Schema and ETag, completing it (If-Match)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ...services import tasks
from ...services.inbox import TaskCursor, todo_after
from ...services.model_registry import process_model
from ...store.models import InboxTask, ProcessInstanceRow
from ..context import now, today, unit_of_work
from .context import before_api_call, caller, fields_of, idempotent
from .document import link, operation
from .form_schemas import form_schema
from .schemas import (
    CompletedSchema,
    CompleteSchema,
    TaskDetailSchema,
    TaskPageSchema,
    TaskQuerySchema,
    TaskSchema,
    task_cursor,
)

blp = Blueprint("api_tasks", __name__, url_prefix="/api/v1", description="Tasks (待办)")
blp.before_request(before_api_call)


class PreconditionFailed(HTTPException):
    code = 412
    description = "the task changed since you read it: get it again and use its new ETag"


class PreconditionRequired(HTTPException):
    code = 428
    description = "send If-Match with the task's ETag (from GET /api/v1/tasks/{task_id})"


def _etag(session: Any, task: InboxTask) -> str:
    row = session.get(ProcessInstanceRow, task.instance_id)
    return f'"{task.instance_id}-{row.version}"'


@blp.route("/tasks")
class Tasks(MethodView):
    @operation("list_my_tasks", "List my open tasks (cursor pages)", [422],
               links={200: {"get_task": link("get_task", task_id="$response.body#/items/0/task_id")}})
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's open tasks (their organisation's, unclaimed or claimed by them), earliest due first,
        undated last, a page at a time (pass `next_cursor` back as `cursor`)."""
        limit = args["limit"]
        with unit_of_work() as session:
            found = todo_after(session, caller(), today(), args.get("cursor"), limit + 1)
        more = len(found) > limit
        last = found[limit - 1] if more else None
        return {"items": found[:limit],
                "next_cursor": task_cursor(TaskCursor(last.due_on, last.id)) if last is not None else None}


@blp.route("/tasks/<task_id>")
class TaskDetail(MethodView):
    @operation("get_task", "Get a task with its form and ETag", [404],
               links={200: {"complete_task": link("complete_task", task_id="$request.path.task_id",
                                                  **{"header.If-Match": "$response.header.ETag"})}})
    @blp.response(200, TaskDetailSchema, headers={"ETag": {"$ref": "#/components/headers/ETag"}})
    def get(self, task_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A task the caller may act on, its form as JSON Schema (what the server enforces: conditional
        requirements as `if`/`then`, the signature as `const`), and its ETag for If-Match."""
        with unit_of_work() as session:
            task, form = tasks.task_form(session, caller(), task_id, today())
            etag = _etag(session, task)
            signature = _signature_field(session, task)
        schema = form_schema(form, caller().display_name, signature)
        return {**fields_of(task, TaskSchema), "form": schema, "etag": etag}, 200, {"ETag": etag}


def _signature_field(session: Any, task: InboxTask) -> str | None:
    """The field of the task's form that must carry the signer's own name (camunda property), if any."""
    row = session.get(ProcessInstanceRow, task.instance_id)
    return process_model(row.model_version).task_properties(task.bpmn_id).get("signature_field") or None


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
