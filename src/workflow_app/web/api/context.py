"""Helpers of the API views: the calling user, idempotent writes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, make_response, request
from flask_smorest import abort
from marshmallow import Schema
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity

from ...services import tokens
from ...services.errors import ConflictError, PermissionDeniedError
from ...services.evidence import MAX_PHOTO_BYTES
from ...store.models import IdempotentResponse, User
from ..context import now, unit_of_work

MAX_UPLOAD_BYTES = MAX_PHOTO_BYTES + 64 * 1024
"""Largest multipart body the API takes: one file and the multipart framing around it."""


MAX_KEY_LENGTH = 200


class Unauthenticated(Exception):
    """No valid token came with an API call."""


class IdempotencyKeyReused(UnprocessableEntity):
    """The same Idempotency-Key came with a different body: a client bug, never a silent replay."""


def before_api_call() -> None:
    """before_request of every API blueprint: who calls, and a body the API can read."""
    _authenticate()
    _refuse_unreadable_body()


def _refuse_unreadable_body() -> None:
    """An upload too large by its Content-Length is refused before it is read; JSON must be an object."""
    if request.mimetype == "multipart/form-data" and (request.content_length or 0) > MAX_UPLOAD_BYTES:
        raise RequestEntityTooLarge(f"an upload may be at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    if request.is_json and request.content_length:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object (well-formed UTF-8 JSON, e.g. {\"data\": {...}})")


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, plain = header.partition(" ")
    if scheme.lower() != "bearer" or not plain:
        raise Unauthenticated("send a personal API token: Authorization: Bearer <token>")
    with unit_of_work() as session:
        found = tokens.authenticate(session, plain.strip(), now())
    if found is None:
        raise Unauthenticated("the token is unknown, expired or revoked")
    g.api_user, g.api_scopes = found
    if request.method not in ("GET", "HEAD", "OPTIONS") and "write" not in g.api_scopes:
        raise PermissionDeniedError("该访问令牌只能读取（需要 write 权限）")


def refuse_unknown_parts(*declared: str) -> None:
    """A multipart body carries only the declared parts, each once (422 naming the others, as for JSON)."""
    parts = [*request.form.keys(), *request.files.keys()]
    unknown = {name: ["Unknown field."] for name in parts if name not in declared}
    repeated = {name: ["Send it once."] for name in declared
                if len(request.files.getlist(name)) + len(request.form.getlist(name)) > 1}
    if unknown or repeated:
        abort(422, messages={"files": {**unknown, **repeated}})


def caller() -> User:
    return g.api_user  # type: ignore[no-any-return]


def fields_of(record: object, schema: type[Schema]) -> dict[str, Any]:
    """The record's attributes that `schema` declares, unserialized (the response schema dumps them)."""
    return {name: getattr(record, name) for name in schema().fields}


def idempotent(work: Callable[[Session], tuple[dict[str, Any], int]]) -> Response:
    """Run a write once per Idempotency-Key: the same key returns the first response and changes nothing.

    The response is stored in the write's own transaction, so a retry after a crash either
    finds it or redoes the whole write, never half of it. `work` returns a JSON-ready body.
    """
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_KEY_LENGTH:  # never cut: two long keys alike at the start are two writes
        raise BadRequest(f"an Idempotency-Key may be at most {MAX_KEY_LENGTH} characters")
    target = f"{request.method} {request.path}"
    signature = f"{target} sha256={_body_fingerprint()}"
    with unit_of_work() as session:
        if key:
            stored = session.scalar(select(IdempotentResponse).where(IdempotentResponse.user_id == caller().id,
                                                                     IdempotentResponse.key == key))
            if stored is not None:
                first_target, _, first_body = stored.request.partition(" sha256=")
                if first_target != target:
                    raise ConflictError(f"Idempotency-Key {key!r} was used for {first_target}")
                if first_body and stored.request != signature:
                    raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was used with a different body")
                return _json(stored.body, stored.status, {"Idempotent-Replayed": "true"})
        body, status = work(session)
        if key:
            session.add(IdempotentResponse(user_id=caller().id, key=key, request=signature, status=status,
                                           body=body, created_at=now()))
    return _json(body, status, {})


def _body_fingerprint() -> str:
    """A digest of what the request carries: its JSON (key order ignored), or its form fields and its files'
    names and bytes."""
    digest = hashlib.sha256()
    if request.is_json:
        digest.update(json.dumps(request.get_json(silent=True), sort_keys=True, ensure_ascii=False).encode())
    for name, value in sorted(request.form.items(multi=True)):
        digest.update(f"{name}\0{value}\0".encode())
    for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        digest.update(f"{name}\0{upload.filename}\0".encode())
        upload.stream.seek(0)
        digest.update(upload.stream.read())
        upload.stream.seek(0)
    return digest.hexdigest()


def _json(body: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    response = make_response(jsonify(body), status)
    response.headers.update(headers)
    return response
