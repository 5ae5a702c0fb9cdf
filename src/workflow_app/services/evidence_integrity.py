"""Whether every evidence file the records refer to is there and unaltered.

Files are stored by content hash, so a file is intact exactly when its content still hashes
to its name. Hazard evidence rows and self-inspection answers' photos refer to them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Evidence, SelfInspectionAnswer
from .evidence import EvidenceStore

CHUNK = 1 << 20
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class EvidenceProblem:
    """A referenced file that is missing or whose content no longer matches its hash."""

    sha256: str
    referred_by: str  # e.g. "evidence 12 (hazard 3)"
    problem: str  # missing | altered

    @property
    def message(self) -> str:
        what = "is missing" if self.problem == "missing" else "was altered (its content no longer matches its hash)"
        return f"evidence file {self.sha256} of {self.referred_by} {what}"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _references(session: Session) -> Iterator[tuple[str, str]]:
    for row_id, hazard_id, sha256 in session.execute(select(Evidence.id, Evidence.hazard_id, Evidence.sha256)
                                                     .order_by(Evidence.id)):
        yield sha256, f"evidence {row_id} (hazard {hazard_id})"
    for answer_id, walk_id, photos in session.execute(
            select(SelfInspectionAnswer.id, SelfInspectionAnswer.self_inspection_id, SelfInspectionAnswer.photos)
            .order_by(SelfInspectionAnswer.id)):
        for photo in photos or []:
            yield str(photo.get("sha256", "")), f"self-inspection {walk_id} answer {answer_id}"


def evidence_problems(session: Session, store: EvidenceStore) -> list[EvidenceProblem]:
    """Every referenced file that is missing or altered (each file hashed once)."""
    state: dict[str, str | None] = {}
    problems = []
    for sha256, referred_by in _references(session):
        if sha256 not in state:
            path = store.path(sha256)
            state[sha256] = ("missing" if not SHA256_HEX.fullmatch(sha256) or not path.is_file()
                             else None if file_sha256(path) == sha256 else "altered")
        if state[sha256] is not None:
            problems.append(EvidenceProblem(sha256, referred_by, state[sha256] or ""))
    return problems
