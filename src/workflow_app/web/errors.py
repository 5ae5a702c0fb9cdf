"""Error pages: service errors become 404/403/409/400, never a stack trace or a leak."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..services.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

MESSAGES = {
    400: "请求无效",
    403: "您无权进行此操作",
    404: "页面不存在，或您无权查看",
    409: "数据已被他人修改",
    413: "上传的文件过大",
    429: "提交过于频繁，请稍后再试",
}


def _page(status: int, detail: str | None = None) -> tuple[str, int]:
    return render_template("error.html", status=status, message=_(MESSAGES.get(status, "出错了")),
                           detail=detail), status


def init_app(app: Flask) -> None:
    app.register_error_handler(NotFoundError, lambda exc: _page(404))
    app.register_error_handler(PermissionDeniedError, lambda exc: _page(403, str(exc)))
    app.register_error_handler(ConflictError, lambda exc: _page(409, str(exc)))
    app.register_error_handler(InvalidInputError, lambda exc: _page(400, str(exc)))
    app.register_error_handler(CSRFError, lambda exc: _page(400, _("表单已过期或缺少安全令牌，请刷新页面后重试")))
    app.register_error_handler(HTTPException, lambda exc: _page(exc.code or 500))
