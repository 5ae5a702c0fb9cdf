"""Model versions: deploy a BPMN file once per content, restore its spec once per process."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine import ProcessModel, dump_spec, load_model, load_spec
from ..engine.parser import model_from_specs
from ..engine.serializer import SERIALIZER_VERSION
from ..store.models import ModelVersion
from .errors import NotFoundError

_RESTORED: dict[str, ProcessModel] = {}
"""Restored specs by content hash: restoring a spec costs milliseconds, so do it once."""


def deploy(session: Session, xml: bytes, file_name: str, now: datetime) -> ModelVersion:
    """Validate and store a model; the same content deployed again returns the existing version."""
    digest = hashlib.sha256(xml).hexdigest()
    existing = session.scalar(select(ModelVersion).where(ModelVersion.sha256 == digest))
    if existing is not None:
        return existing
    model = load_model(xml, file_name)  # raises ModelError, nothing stored
    latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.process_id == model.process_id))
    version = ModelVersion(
        process_id=model.process_id, version=(latest or 0) + 1, name=model.name, file_name=file_name,
        sha256=digest, xml=xml.decode("utf-8"), spec_json=dump_spec(model.spec, model.subprocess_specs),
        serializer_version=SERIALIZER_VERSION, deployed_at=now,
    )
    session.add(version)
    session.flush()
    _RESTORED[digest] = model
    return version


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
