"""Bring a database to a runnable state: schema at head, every model in bpmn/ deployed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..engine import ModelError, load_model
from ..store.database import transaction
from ..store.migrate import upgrade_to_head
from ..store.models import ModelVersion
from . import holidays, standards
from .model_registry import check_services, deploy


def check_models(bpmn_dir: Path) -> list[tuple[Path, ModelError | None]]:
    """Validate every .bpmn file in a folder; the error of each broken one, None for good ones."""
    results: list[tuple[Path, ModelError | None]] = []
    for path in sorted(bpmn_dir.glob("*.bpmn")):
        try:
            check_services(load_model(path.read_bytes(), path.name), path.name)
            results.append((path, None))
        except ModelError as exc:
            results.append((path, exc))
    return results


def init_db(engine: Engine, factory: sessionmaker[Session], bpmn_dir: Path, now: datetime) -> list[ModelVersion]:
    """Migrate to head, deploy each model whose content is not deployed yet, load the shipped standards once,
    and the holiday years the chinese_calendar package knows that the table has not."""
    upgrade_to_head(engine)
    with transaction(factory) as session:
        versions = [deploy(session, path.read_bytes(), path.name, now) for path in sorted(bpmn_dir.glob("*.bpmn"))]
        standards.seed(session, now)
        holidays.seed(session, now)
        return versions
