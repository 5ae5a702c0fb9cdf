"""Model versions: deploy a BPMN file once per content, restore its spec once per process."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..engine import ModelError, ProcessModel, dump_spec, load_bundle, load_model, load_spec
from ..engine.parser import model_from_specs
from ..engine.serializer import SERIALIZER_VERSION
from ..engine.service_tasks import SERVICES
from ..store.models import ModelVersion, ProcessInstanceRow
from . import model_services  # noqa: F401  (registers the services the shipped models call)
from .errors import NotFoundError
from .roles import LANE_ROLES, ROLES

_RESTORED: dict[str, ProcessModel] = {}
"""Restored specs by content hash: restoring a spec costs milliseconds, so do it once."""


@dataclass(frozen=True)
class PreparedModel:
    """A model parsed and checked, ready to store: everything slow and fallible done before any transaction."""

    model: ProcessModel
    file_name: str
    sha256: str
    spec_json: str
    lane_roles: dict[str, str]


def prepare(xml: bytes, file_name: str, lane_roles: dict[str, str] | None = None,
            default_role: str | None = None) -> PreparedModel:
    """Parse, validate and serialise a model; ModelError names the file and element on any fault.

    Beyond `check`, every user task's lane must map to a role: a built-in lane name or one given in
    `lane_roles` (Camunda candidate groups are lanes too); `default_role` acts on tasks in no lane. Call it
    outside the write transaction: a large model takes seconds to parse, and on SQLite a write transaction
    holds the whole database meanwhile.
    """
    lane_roles = lane_roles or {}
    default_lane = _default_lane(default_role, file_name)
    model = load_model(xml, file_name, default_lane=default_lane)
    return _prepared(model, file_name, _digest(xml, lane_roles, default_role), lane_roles)


def prepare_bundle(files: list[tuple[str, bytes]], lane_roles: dict[str, str] | None = None,
                   default_role: str | None = None) -> list[PreparedModel]:
    """`prepare` for several files deployed together (processes calling each other through call activities):
    one prepared model per process that no other calls, each carrying what it calls."""
    if len(files) == 1:
        return [prepare(files[0][1], files[0][0], lane_roles, default_role)]
    lane_roles = lane_roles or {}
    bundle = b"".join(hashlib.sha256(name.encode() + b"\0" + xml).digest() for name, xml in sorted(files))
    models = load_bundle(files, default_lane=_default_lane(default_role, files[0][0]))
    return [_prepared(model, model.file_name, _digest(bundle + model.process_id.encode(), lane_roles, default_role),
                      lane_roles) for model in models]


def _prepared(model: ProcessModel, file_name: str, digest: str, lane_roles: dict[str, str]) -> PreparedModel:
    _check_lanes(model, file_name, lane_roles)
    check_services(model, file_name)
    return PreparedModel(model, file_name, digest, dump_spec(model.spec, model.subprocess_specs), lane_roles)


def _default_lane(default_role: str | None, file_name: str) -> str | None:
    """The built-in lane of `default_role` (tasks in no lane go there)."""
    if default_role is None:
        return None
    lane = next((lane for lane, role in LANE_ROLES.items() if role == default_role), None)
    if lane is None:
        raise ModelError(file_name, None, f"default role {default_role!r} is not one of {', '.join(ROLES)}")
    return lane


def store(session: Session, prepared: PreparedModel, now: datetime) -> ModelVersion:
    """Store a prepared model as the newest version of its process; the same content (and lane mapping)
    stored again returns the existing version."""
    existing = session.scalar(select(ModelVersion).where(ModelVersion.sha256 == prepared.sha256))
    if existing is not None:
        return existing
    model = prepared.model
    latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.process_id == model.process_id))
    version = ModelVersion(
        process_id=model.process_id, version=(latest or 0) + 1, name=model.name, file_name=prepared.file_name,
        sha256=prepared.sha256, xml=model.source, spec_json=prepared.spec_json,
        serializer_version=SERIALIZER_VERSION, deployed_at=now, lane_roles=prepared.lane_roles or None,
    )
    session.add(version)
    session.flush()
    _RESTORED[prepared.sha256] = model
    return version


def deploy(session: Session, xml: bytes, file_name: str, now: datetime,
           lane_roles: dict[str, str] | None = None, default_role: str | None = None) -> ModelVersion:
    """Prepare and store in one go (start-up's shipped models); content already stored is not parsed again."""
    digest = _digest(xml, lane_roles or {}, default_role)
    existing = session.scalar(select(ModelVersion).where(ModelVersion.sha256 == digest))
    return existing if existing is not None else store(session, prepare(xml, file_name, lane_roles, default_role), now)


def _digest(xml: bytes, lane_roles: dict[str, str], default_role: str | None = None) -> str:
    """The version's identity: the file, and how its lanes were mapped to roles."""
    mapping = json.dumps(lane_roles, sort_keys=True, ensure_ascii=False).encode() if lane_roles else b""
    default = f"default-role={default_role}".encode() if default_role else b""
    return hashlib.sha256(xml + mapping + default).hexdigest()


def _check_lanes(model: ProcessModel, file_name: str, lane_roles: dict[str, str]) -> None:
    for role in lane_roles.values():
        if role not in ROLES:
            raise ModelError(file_name, None, f"role {role!r} is not one of {', '.join(ROLES)}")
    known = {**LANE_ROLES, **lane_roles}
    for bpmn_id, lane in sorted(model.user_task_lanes().items()):
        if lane not in known:
            raise ModelError(file_name, bpmn_id, f"lane {lane!r} maps to no role: deploy with --lane '{lane}=<role>' "
                                                 f"(--group for a candidate group; roles: {', '.join(ROLES)})")


def check_services(model: ProcessModel, file_name: str) -> None:
    """Every service task names a service this application provides (ModelError otherwise)."""
    for bpmn_id, name in sorted(model.service_names().items()):
        if name not in SERVICES:
            raise ModelError(file_name, bpmn_id, f"service {name!r} is not provided by this application "
                                                 f"(services: {', '.join(sorted(SERVICES)) or 'none'})")


def latest_version(session: Session, process_id: str) -> ModelVersion:
    """The newest deployed version of a process; new instances start on it."""
    version = session.scalar(select(ModelVersion).where(ModelVersion.process_id == process_id)
                             .order_by(ModelVersion.version.desc()).limit(1))
    if version is None:
        raise NotFoundError(f"process model {process_id!r} is not deployed (run `workflow-app init-db`)")
    return version


def process_model(version: ModelVersion) -> ProcessModel:
    """The runnable model of a stored version (restored from its spec JSON, cached)."""
    model = _RESTORED.get(version.sha256)
    if model is None:
        spec, subprocess_specs = load_spec(version.spec_json)
        model = model_from_specs(spec, subprocess_specs, version.file_name)
        _RESTORED[version.sha256] = model
    return model


def versions_with_counts(session: Session) -> list[tuple[ModelVersion, int, int]]:
    """Every version, newest first per process, with its running and total instance counts."""
    running = func.sum(case((ProcessInstanceRow.status == "running", 1), else_=0))
    query = (select(ModelVersion, func.coalesce(running, 0), func.count(ProcessInstanceRow.id))
             .outerjoin(ProcessInstanceRow, ProcessInstanceRow.model_version_id == ModelVersion.id)
             .group_by(ModelVersion.id).order_by(ModelVersion.process_id, ModelVersion.version.desc()))
    return [(version, int(run), int(total)) for version, run, total in session.execute(query)]


def find_version(session: Session, process_id: str, number: int | None = None) -> ModelVersion:
    """A version of a process (the newest when `number` is None)."""
    if number is None:
        return latest_version(session, process_id)
    version = session.scalar(select(ModelVersion).where(ModelVersion.process_id == process_id,
                                                        ModelVersion.version == number))
    if version is None:
        raise NotFoundError(f"{process_id} has no version {number}")
    return version
