"""Attach a file to a hazard outside any task (the API's upload): checked, stored and audited in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Evidence, User
from . import audit
from .errors import PermissionDeniedError
from .evidence import EvidenceStore, Photo, Uploads
from .hazards import get_hazard
from .roles import may_report_for

STAGE = "attachment"
STAGES = {"before": "photos_before", "after": "photos_after", "attachment": STAGE}
"""What an upload may be (the API's `stage`) → the evidence stage it is stored under: the form field a photo
before or after rectification comes with on the web (review pages tell before from after by it), or neither."""


def attach(session: Session, actor: User, hazard_id: int, photo: Photo, store: EvidenceStore,
           now: datetime, stage: str = STAGE) -> Evidence:
    """Add a checked photo or document to a hazard the actor may see and report for; return its row.

    `stage` is where it is stored (a value of STAGES). A closed or rejected hazard refuses it
    (FrozenRecordError). A file the hazard already holds
    is returned as it is and recorded nothing; a new one is recorded in the hazard's history.
    """
    hazard = get_hazard(session, actor, hazard_id)
    if not may_report_for(session, actor, hazard.enterprise):
        raise PermissionDeniedError("您无权为该隐患添加附件")
    for added in Uploads(store, {stage: [photo]}).save(session, actor, hazard.id, now):
        audit.record(session, actor, "add_attachment", "hazard", hazard.id,
                     {"evidence": added.id, "sha256": added.sha256, "name": added.original_name,
                      "media_type": added.media_type, "stage": added.stage}, now)
    stored = session.scalar(select(Evidence).where(Evidence.hazard_id == hazard.id, Evidence.sha256 == photo.sha256))
    assert stored is not None
    return stored
