"""/api/v1: the JSON API (flask-smorest), its OpenAPI 3.1 document and docs page.

Every call authenticates with a personal token (`Authorization: Bearer …`) and goes
through the same services and role rules as the web pages. Errors are RFC 9457 problem
details (see web/errors.py). Writes need the token's `write` scope.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from . import catalog, enforcement, hazards, lookups, tasks
from .document import DocumentPlugin
from .schemas import ProblemSchema

PREFIX = "/api/v1"
REDOC_URL = "/static/vendor/redoc/redoc.standalone.js"
"""ReDoc, shipped in static/vendor/redoc (MIT): the docs page works offline and loads nothing from elsewhere."""


class ProblemApi(Api):
    """Documents every error response as problem details (web/api/document.py declares each one)."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE="隐患闭环管理 API", API_VERSION="v1", OPENAPI_VERSION="3.1.0", OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json", OPENAPI_REDOC_PATH="docs",
        OPENAPI_REDOC_URL=REDOC_URL,
    )
    api = ProblemApi(app, spec_kwargs={"security": [{"bearer": []}], "extra_plugins": [DocumentPlugin()]})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    from .. import RowId

    api.register_converter(RowId, lambda converter: {"type": "integer", "minimum": 0, "maximum": converter.max})
    for blueprint in (hazards.blp, tasks.blp, catalog.blp, enforcement.blp, lookups.blp):
        api.register_blueprint(blueprint)
    return api
