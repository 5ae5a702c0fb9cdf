"""What the OpenAPI document says beyond the schemas: names, headers, errors, links.

Each view names its operation with `operation(...)`: a stable snake_case operationId (generated clients
call it by that name), a short summary, the error statuses it can answer and the OpenAPI links a
client (or schemathesis' stateful phase) may follow from its answer. `DocumentPlugin` then completes
every operation the same way, and refuses to build a document with an operation left unnamed: the app
does not start.

- every operation may answer 401 (with `WWW-Authenticate`) and 503 (with `Retry-After`);
- every POST takes `Idempotency-Key` and its success may carry `Idempotent-Replayed: true`;
- every error is `application/problem+json` with the Problem schema (RFC 9457).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from apispec import APISpec, BasePlugin
from flask_smorest import Blueprint

from .context import MAX_KEY_LENGTH

View = TypeVar("View", bound=Callable[..., Any])
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
PROBLEM = "application/problem+json"
ERRORS = {
    400: ("BadRequest", "The request cannot be read (a body that is not a JSON object, a refused value)"),
    401: ("Unauthenticated", "No valid token: send `Authorization: Bearer <token>`"),
    403: ("Forbidden", "The token may not do this (a read-only token writing, another organisation's record)"),
    404: ("NotFound", "No such record, or not one the caller may see"),
    409: ("Conflict", "The record's state refuses it, or the Idempotency-Key was used for another call"),
    412: ("PreconditionFailed", "If-Match is not the task's current ETag: read the task again"),
    413: ("TooLarge", "The upload is larger than 8 MB"),
    422: ("InvalidData", "Fields are missing or invalid (`errors`: field → messages), or the Idempotency-Key "
                        "came with a different body"),
    428: ("PreconditionRequired", "If-Match is missing: send the task's ETag"),
    500: ("ProcessError", "A step of the process model failed: nothing was saved"),
    503: ("Unavailable", "The database cannot be reached for now: try again after `Retry-After` seconds"),
}
ALWAYS = (401, 503)
HEADERS: dict[str, dict[str, Any]] = {
    "WWW-Authenticate": {"description": "How to authenticate: `Bearer realm=\"workflow-app\"`",
                         "required": True, "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again", "required": True,
                    "schema": {"type": "integer", "minimum": 0}},
    "ETag": {"description": "The task's version: send it back as If-Match to complete it", "required": True,
             "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when this is the stored answer of an earlier call with the "
                                           "same Idempotency-Key (nothing was done again)",
                            "schema": {"type": "string", "enum": ["true"]}},
}
REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {"in": "header", "name": "Idempotency-Key", "required": False,
                        "description": "Any string up to 200 characters, new for each intended write: a retry with "
                                       "the same key and body replays the first answer and changes nothing",
                        "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH}},
    "If-Match": {"in": "header", "name": "If-Match", "required": True,
                 "description": "The ETag of GET /api/v1/tasks/{task_id}: a stale one is 412, none is 428",
                 "schema": {"type": "string"}},
}
HEADERS_OF_STATUS = {401: ("WWW-Authenticate",), 503: ("Retry-After",)}


def operation(operation_id: str, summary: str, errors: Iterable[int] = (), *, headers: Iterable[str] = (),
              links: dict[int, dict[str, dict[str, Any]]] | None = None) -> Callable[[View], View]:
    """Name a view's operation and declare what it can answer besides success (401 and 503 go on every one).

    `headers`: request headers it reads (from REQUEST_HEADERS); `links`: status → link name → link object.
    The view's docstring becomes the operation's description.
    """
    def decorate(view: View) -> View:
        # int keys, as flask-smorest's own: the two merge into one response per status
        responses: dict[int, Any] = {status: _ref("responses", ERRORS[status][0]) for status in errors}
        for status, named in (links or {}).items():
            responses.setdefault(status, {})["links"] = named
        doc: dict[str, Any] = {"operationId": operation_id, "summary": summary, "responses": responses,
                               "x-request-headers": list(headers)}
        if view.__doc__:
            doc["description"] = inspect.cleandoc(view.__doc__)
        return Blueprint.doc(**doc)(view)  # type: ignore[no-any-return]
    return decorate


def link(operation_id: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to `operation_id`, its parameters given as runtime expressions."""
    return {"operationId": operation_id, "parameters": parameters}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


class DocumentPlugin(BasePlugin):
    """Completes every operation (see the module's docstring) and refuses an unnamed one."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        for name, header in HEADERS.items():
            spec.components.header(name, header)
        for name, parameter in REQUEST_HEADERS.items():
            spec.components.parameter(name, parameter["in"], parameter)
        for status, (name, description) in ERRORS.items():
            response: dict[str, Any] = {"description": description,
                                        "content": {PROBLEM: {"schema": _ref("schemas", "Problem")}}}
            if status in HEADERS_OF_STATUS:
                response["headers"] = {h: _ref("headers", h) for h in HEADERS_OF_STATUS[status]}
            spec.components.response(name, response)

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        for method, doc in (operations or {}).items():
            operation_id = doc.get("operationId")
            if not operation_id or not SNAKE.match(operation_id):
                raise ValueError(f"{method.upper()} {path} needs a snake_case operationId: decorate it with "
                                 "web.api.document.operation")
            responses = {str(status): response for status, response in doc["responses"].items()}
            doc["responses"] = responses
            for status in ALWAYS:
                responses.setdefault(str(status), _ref("responses", ERRORS[status][0]))
            if "422" in responses:  # flask-smorest's own 422 (from @arguments) becomes ours
                responses["422"] = _ref("responses", ERRORS[422][0])
            parameters = doc.setdefault("parameters", [])
            wanted = list(doc.pop("x-request-headers", []))
            if method == "post":
                wanted.append("Idempotency-Key")
                for code, response in responses.items():
                    if code.startswith("2"):
                        response.setdefault("headers", {})["Idempotent-Replayed"] = _ref("headers",
                                                                                         "Idempotent-Replayed")
            parameters.extend(wanted)  # component names: apispec makes them references
            if not parameters:
                doc.pop("parameters")
