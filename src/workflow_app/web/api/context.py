"""Helpers of the API views: the calling user, idempotent writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, make_response, request
from marshmallow import Schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...services import tokens
from ...services.errors import ConflictError, PermissionDeniedError
from ...store.models import IdempotentResponse, User
from ..context import now, unit_of_work


class Unauthenticated(Exception):
    """No valid token came with an API call."""


def authenticate() -> None:
    """before_request of every API blueprint: a valid bearer token, and the write scope for writes."""
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
        raise PermissionDeniedError("this token may only read (scope write needed)")


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
    key = request.headers.get("Idempotency-Key", "").strip()[:200]
    signature = f"{request.method} {request.path}"
    with unit_of_work() as session:
        if key:
            stored = session.scalar(select(IdempotentResponse).where(IdempotentResponse.user_id == caller().id,
                                                                     IdempotentResponse.key == key))
            if stored is not None:
                if stored.request != signature:
                    raise ConflictError(f"Idempotency-Key {key!r} was used for {stored.request}")
                return _json(stored.body, stored.status, {"Idempotent-Replayed": "true"})
        body, status = work(session)
        if key:
            session.add(IdempotentResponse(user_id=caller().id, key=key, request=signature, status=status,
                                           body=body, created_at=now()))
    return _json(body, status, {})


def _json(body: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    response = make_response(jsonify(body), status)
    response.headers.update(headers)
    return response
