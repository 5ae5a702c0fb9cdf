"""Evidence photos and documents: checked in memory, stored once by content hash, served to those who may
see the hazard.

A photo is checked (size, a real JPEG/PNG/WebP image) and a document (size, a PDF) before
anything is written. Files
live under the instance folder at evidence/<hash[:2]>/<hash>, thumbnails beside them;
the database row ties a file to a hazard. A file is written inside the transaction that
adds its row, just before commit: if the commit then fails the file stays unreferenced
and is never served (serving needs the row).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Evidence, Hazard, User
from .errors import FrozenRecordError, InvalidInputError, NotFoundError
from .roles import visible_hazards

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
PDF = "application/pdf"
"""A document (an inspection report, a certificate) is evidence too; it gets no thumbnail."""
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMBNAIL_EDGE = 320
FROZEN_STATUSES = ("closed", "rejected")
"""A hazard in one of these states is a finished record: its evidence is what closed (or rejected) it."""
FROZEN_MESSAGE = "该隐患已销号或不予受理，证据已封存，不能再添加附件"


@dataclass(frozen=True)
class Photo:
    """A checked upload: its bytes, hash, media type and the name it came with."""

    content: bytes
    sha256: str
    media_type: str
    original_name: str


def check_photo(content: bytes, original_name: str, max_bytes: int = MAX_PHOTO_BYTES) -> Photo:
    """A Photo (or a PDF document), or InvalidInputError saying why the file is refused (nothing is written)."""
    name = Path(original_name or "photo").name[:200]
    if len(content) > max_bytes:
        limit_mb = max_bytes // 1024 // 1024
        raise InvalidInputError(f"{name}: 文件过大（{len(content) // 1024} KB），每个文件不超过 {limit_mb} MB")
    if not content:
        raise InvalidInputError(f"{name}: 文件为空")
    if content.startswith(b"%PDF-"):
        if b"%%EOF" not in content[-2048:]:
            raise InvalidInputError(f"{name}: PDF 文件不完整")
        return Photo(content, hashlib.sha256(content).hexdigest(), PDF, name)
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind = image.format or ""
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInputError(f"{name}: 图片像素过多")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise InvalidInputError(f"{name}: 不是可识别的图片或 PDF 文件（支持 JPEG、PNG、WebP、PDF）") from None
    if kind not in MEDIA_TYPES:
        raise InvalidInputError(f"{name}: 不支持的图片格式 {kind}（仅支持 JPEG、PNG、WebP）")
    return Photo(content, hashlib.sha256(content).hexdigest(), MEDIA_TYPES[kind], name)


_SUFFIXES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def anonymised(photo: Photo, number: int) -> Photo:
    """A reporter's photo without what could name them: no metadata (EXIF: camera, GPS, time), a neutral name.

    The picture is turned upright by its EXIF orientation, then written again without any
    metadata; a document is refused (its properties may carry the author).
    """
    if photo.media_type not in _SUFFIXES:
        raise InvalidInputError("举报只能附照片（JPEG、PNG、WebP）：文档的属性可能暴露举报人")
    kind = {v: k for k, v in MEDIA_TYPES.items()}[photo.media_type]
    with Image.open(io.BytesIO(photo.content)) as image:
        upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        upright.save(buffer, kind, **({"quality": 90} if kind != "PNG" else {}))
    content = buffer.getvalue()
    return Photo(content, hashlib.sha256(content).hexdigest(), photo.media_type,
                 f"举报照片{number}.{_SUFFIXES[photo.media_type]}")


class EvidenceStore:
    """Files by content hash under one folder."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def thumbnail_path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.thumb.jpg"

    def write(self, photo: Photo) -> None:
        """Write a photo once (atomically: a reader never sees half a file) and its thumbnail."""
        target = self.path(photo.sha256)
        if not target.exists():
            _atomic_write(target, photo.content)
        thumb = self.thumbnail_path(photo.sha256)
        if photo.media_type != PDF and not thumb.exists():
            with Image.open(io.BytesIO(photo.content)) as image:
                image.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, "JPEG", quality=80)
            _atomic_write(thumb, buffer.getvalue())


def _atomic_write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Uploads:
    """Photos submitted with a form, by form field, and where to keep them."""

    store: EvidenceStore
    by_field: dict[str, list[Photo]]

    def anonymised(self) -> Uploads:
        """The same uploads as a reporter's: each photo without metadata and under a neutral name."""
        numbers = iter(range(1, 1 + sum(len(photos) for photos in self.by_field.values())))
        return Uploads(self.store, {field_id: [anonymised(photo, next(numbers)) for photo in photos]
                                    for field_id, photos in self.by_field.items()})

    def merged_into(self, data: dict[str, object]) -> dict[str, object]:
        """`data` with each file field holding the hashes of its photos (after any given ones)."""
        merged = dict(data)
        for field_id, photos in self.by_field.items():
            given = merged.get(field_id) or []
            given_list = [given] if isinstance(given, str) else list(given)  # type: ignore[call-overload]
            merged[field_id] = given_list + [p.sha256 for p in photos]
        return merged

    def save(self, session: Session, actor: User | None, hazard_id: int, now: datetime) -> list[Evidence]:
        """Add a row per new photo of the hazard and write its file (in the caller's transaction).

        Every path that adds evidence to a hazard comes here, so this is where a finished
        record refuses it (FrozenRecordError, nothing written). Returns the rows added.
        """
        if any(self.by_field.values()):
            check_open(session, hazard_id)
        added: list[Evidence] = []
        known = set(session.scalars(select(Evidence.sha256).where(Evidence.hazard_id == hazard_id)))
        for field_id, photos in self.by_field.items():
            for photo in photos:
                if photo.sha256 in known:
                    continue
                known.add(photo.sha256)
                added.append(Evidence(hazard_id=hazard_id, sha256=photo.sha256, media_type=photo.media_type,
                                      size=len(photo.content), original_name=photo.original_name, stage=field_id,
                                      uploaded_by_id=actor.id if actor else None, uploaded_at=now))
                session.add(added[-1])
                self.store.write(photo)
        session.flush()
        return added


def check_open(session: Session, hazard_id: int) -> None:
    """Refuse to add evidence to a closed or rejected hazard: after closure the record is frozen."""
    if session.scalar(select(Hazard.status).where(Hazard.id == hazard_id)) in FROZEN_STATUSES:
        raise FrozenRecordError(FROZEN_MESSAGE)


def check_known(session: Session, hazard_id: int, hashes: Iterable[str], uploads: Uploads | None) -> None:
    """Refuse file hashes that name no photo of this hazard (nor one being uploaded now)."""
    wanted = set(hashes) - {p.sha256 for photos in (uploads.by_field.values() if uploads else ()) for p in photos}
    if not wanted:
        return
    found = set(session.scalars(select(Evidence.sha256).where(Evidence.hazard_id == hazard_id,
                                                               Evidence.sha256.in_(wanted))))
    if missing := wanted - found:
        raise InvalidInputError(f"unknown photo(s) for this hazard: {', '.join(sorted(missing))}")


def for_hazard(session: Session, hazard_id: int) -> list[Evidence]:
    """The photos of a hazard, oldest first (callers have checked the hazard is visible)."""
    return list(session.scalars(select(Evidence).where(Evidence.hazard_id == hazard_id).order_by(Evidence.id)))


def visible_photo(session: Session, actor: User, evidence_id: int) -> Evidence:
    """One photo, if the actor may see its hazard; otherwise not found."""
    photo = session.get(Evidence, evidence_id)
    visible = photo is not None and session.scalar(
        visible_hazards(select(Hazard.id), actor).where(Hazard.id == photo.hazard_id)) is not None
    if photo is None or not visible:
        raise NotFoundError(f"photo {evidence_id} not found")
    return photo


def file_hashes(data: dict[str, object], field_ids: Sequence[str]) -> list[str]:
    """Every hash named in the given file fields of cleaned data."""
    return [h for field_id in field_ids for h in (data.get(field_id) or [])]  # type: ignore[attr-defined]
