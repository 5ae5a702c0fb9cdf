"""Error pages: service errors become 404/403/409/400, never a stack trace or a leak.

Under /api/ the same errors are RFC 9457 problem details (application/problem+json) with a
stable `type`, a `title`/`detail` in the request's language and field errors for invalid data.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..engine import FormValidationError, ProcessError
from ..services.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from ..store.database import DATABASE_UNAVAILABLE
from .forms import field_message

MESSAGES = {
    400: "请求无效",
    401: "需要有效的访问令牌",
    403: "您无权进行此操作",
    404: "页面不存在，或您无权查看",
    405: "不支持此请求方法",
    409: "数据已被他人修改",
    412: "数据已变化，请重新获取后再提交",
    413: "上传的文件过大",
    422: "提交的数据无效",
    500: "流程执行出错，本次提交未生效",
    428: "请求缺少前提条件（If-Match）",
    429: "提交过于频繁，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}
PROBLEM_TYPES = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
                 405: "method-not-allowed", 409: "conflict", 412: "stale-etag", 413: "too-large",
                 422: "invalid-data", 428: "if-match-required", 429: "too-many-requests", 500: "process-error",
                 503: "unavailable"}
PROBLEM_BASE = "https://workflow-app.example/problems/"
RETRY_AFTER_SECONDS = 15
"""What a 503 tells the client to wait before trying again (the database is being waited for)."""


CHINESE = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def _is_api() -> bool:
    return request.path.startswith("/api/")


def said(detail: str | None) -> str | None:
    """A service's message (zh-CN, the catalog's source language) in the page's language.

    Translated when the catalog knows it. A page never mixes languages: a message that would still speak
    the other one (an English sentence on a Chinese page, Chinese on an English one: a message built with
    values the catalog cannot know) is left out, and the page says only what its status means.
    """
    if not detail:
        return None
    text = _(detail)
    english = str(get_locale()) == "en"
    return None if bool(CHINESE.search(text)) == english else text


def _problem(status: int, detail: str | None = None, errors: dict[str, Any] | None = None,
             kind: str | None = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"type": PROBLEM_BASE + (kind or PROBLEM_TYPES.get(status, "error")),
                            "title": _(MESSAGES.get(status, "出错了")), "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.mimetype = "application/problem+json"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="workflow-app"'
    return response, status


def _page(status: int, detail: str | None = None) -> tuple[str, int] | tuple[Response, int]:
    """The error page (a problem under /api/) with a service's `detail` in the page's language."""
    if _is_api():
        return _problem(status, _(detail) if detail else None)
    return render_template("error.html", status=status, message=_(MESSAGES.get(status, "出错了")),
                           detail=said(detail)), status


def _http(exc: HTTPException) -> tuple[str | Response, int, dict[str, str]]:
    status = exc.code or 500
    if _is_api():
        problem, _status = _problem(status, exc.description if status not in (404, 405) else None,
                                    _field_errors(exc))
        return problem, status, _kept_headers(exc)
    page, _status = _page(status)
    return page, status, _kept_headers(exc)


def _kept_headers(exc: HTTPException) -> dict[str, str]:
    """The headers an HTTP error must keep on our page: Retry-After (every 429 says when to come back) and
    Allow (every 405 lists the methods the address takes, RFC 9110)."""
    return {name: value for name, value in exc.get_headers() if name in ("Retry-After", "Allow")}


def _field_errors(exc: HTTPException) -> dict[str, Any] | None:
    """webargs' messages by location, flattened to field → messages (a whole-body message under "_body")."""
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    errors: dict[str, Any] = {}
    for location in messages.values():
        errors.update(location if isinstance(location, dict) else {"_body": location})
    return errors or None


def _invalid_form(exc: FormValidationError) -> tuple[Response, int]:
    messages: dict[str, list[str]] = {}
    for error in exc.errors:
        messages.setdefault(error.field_id, []).append(field_message(error))
    return _problem(422, _("提交的数据无效"), messages)


def _process_error(exc: ProcessError) -> tuple[str, int] | tuple[Response, int]:
    """A model's script or condition failed: nothing was saved; say where, log it for the administrators."""
    current_app.logger.error("process error at %s: %s", exc.element_id, exc)
    return _page(500, _("流程环节 %(element)s 执行出错，请联系管理员", element=exc.element_id))


def _unavailable(exc: Exception) -> tuple[str | Response, int, dict[str, str]]:
    """The database could not be had in time: 503 with Retry-After, rendered without touching the database.

    The usual error page extends base.html, whose menu asks the database who is signed in and what is
    unread: during an outage that failed again and waitress answered its bare 500. This page is
    standalone, in both languages, and says the action may not have been saved (the transaction was
    rolled back unless the database had already committed it when the connection was lost).
    """
    current_app.logger.warning("database unavailable on %s %s: %s", request.method, request.endpoint,
                               type(getattr(exc, "orig", None) or exc).__name__)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _is_api():
        problem, status = _problem(503, _("数据库暂时无法访问，请稍后重试"))
        return problem, status, headers
    page = current_app.jinja_env.get_template("unavailable.html").render(retry_after=RETRY_AFTER_SECONDS)
    return page, 503, headers


def init_app(app: Flask) -> None:
    from .api.context import IdempotencyKeyReused, Unauthenticated

    app.register_error_handler(NotFoundError, lambda exc: _page(404))
    app.register_error_handler(PermissionDeniedError, lambda exc: _page(403, str(exc)))
    app.register_error_handler(ConflictError, lambda exc: _page(409, str(exc)))
    app.register_error_handler(InvalidInputError, lambda exc: _page(400, str(exc)))
    app.register_error_handler(Unauthenticated, lambda exc: _problem(401, str(exc)))
    app.register_error_handler(IdempotencyKeyReused,
                               lambda exc: _problem(422, exc.description, kind="idempotency-key-reused"))
    app.register_error_handler(FormValidationError, _invalid_form)
    app.register_error_handler(ProcessError, _process_error)
    app.register_error_handler(CSRFError, lambda exc: _page(400, _("表单已过期或缺少安全令牌，请刷新页面后重试")))
    app.register_error_handler(HTTPException, _http)
    for unavailable in DATABASE_UNAVAILABLE:
        app.register_error_handler(unavailable, _unavailable)

