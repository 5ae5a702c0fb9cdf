"""Photos kept for the retry of a form that failed on another field: a person never uploads twice.

A staged photo lives in a folder of its own per owner (a signed-in user, or a public
reporter's browser session) and per form (a task, the public report), named by its
content hash; the form carries only the hashes back, so a client can neither choose a
path nor name another owner's photo (a hash not in the owner's own folder is refused).
A staged photo is checked again when it is used, becomes evidence only with the form's
successful submission, and is deleted after STAGED_HOURS if never used. The folder is
beside the evidence folder, not in it, so backups and integrity checks see only evidence.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInputError
from .evidence import Photo, Uploads, check_photo

STAGED_HOURS = 24
HASH = re.compile(r"[0-9a-f]{64}")
SAFE = re.compile(r"[^A-Za-z0-9_-]")
GONE_MESSAGE = "暂存的照片已过期或不存在，请重新选择照片"


def staging_root(evidence_root: Path) -> Path:
    """Where staged photos live: beside the evidence folder."""
    return evidence_root.with_name(evidence_root.name + "-staged")


@dataclass(frozen=True)
class StagedUploads:
    """One owner's staged photos for one form."""

    root: Path
    owner: str
    form: str

    @property
    def folder(self) -> Path:
        return self.root / SAFE.sub("_", self.owner)[:80] / SAFE.sub("_", self.form)[:120]

    def keep(self, uploads: Uploads) -> dict[str, list[str]]:
        """Stage every photo of `uploads` (already checked); field id → hashes, for the re-rendered form."""
        expire(self.root)
        kept: dict[str, list[str]] = {}
        for field_id, photos in uploads.by_field.items():
            for photo in photos:
                target = self.folder / photo.sha256
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(photo.content)
                    (self.folder / f"{photo.sha256}.name").write_text(photo.original_name, encoding="utf-8")
                kept.setdefault(field_id, []).append(photo.sha256)
        return kept

    def photo(self, sha256: str) -> Photo:
        """A staged photo of this owner and form, checked again; InvalidInputError when it is not there."""
        path = self.folder / sha256
        if not HASH.fullmatch(sha256) or not path.is_file():
            raise InvalidInputError(GONE_MESSAGE)
        name_file = self.folder / f"{sha256}.name"
        name = name_file.read_text(encoding="utf-8") if name_file.is_file() else "photo"
        return check_photo(path.read_bytes(), name)

    def discard(self) -> None:
        """Forget this form's staged photos (after the form went through)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def expire(root: Path, hours: float = STAGED_HOURS) -> int:
    """Delete staged files older than `hours`; return how many."""
    if not root.is_dir():
        return 0
    limit = time.time() - hours * 3600
    removed = 0
    for path in root.glob("*/*/*"):
        if path.is_file() and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
