"""Backup and restore bring back the database and the evidence together; a damaged backup, a
non-empty target or a lost evidence file is named, never silently accepted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, Zone
from flask import Flask
from helpers import REPORT
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, png, sign_in, upload

from workflow_app.cli import main
from workflow_app.services import audit
from workflow_app.services.backup import BackupError, backup, restore
from workflow_app.services.evidence import EvidenceStore
from workflow_app.services.evidence_integrity import evidence_problems
from workflow_app.store.database import transaction
from workflow_app.store.migrate import upgrade_to_head
from workflow_app.store.models import AuditEntry, Evidence, Hazard


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    return make_app(factory, tmp_path, T0)


def _evidence_root(app: Flask) -> Path:
    return Path(app.instance_path) / "evidence"


def _report_with_photos(app: Flask, zone: Zone) -> int:
    client = app.test_client()
    sign_in(client, "boss")
    response = client.post("/hazards/new", data={
        **REPORT, "csrf_token": csrf(client, "/hazards/new"), "enterprise_id": str(zone.enterprise_id),
        "photos_before": [upload(png("red"), "a.png"), upload(png("blue"), "b.png")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _counts(factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with transaction(factory) as s:
        return tuple(s.scalar(select(func.count()).select_from(model)) for model in (Hazard, Evidence, AuditEntry))


def _wipe(engine: Engine, evidence_root: Path) -> None:
    """The zone's machine is lost: an empty database and no evidence folder."""
    if engine.dialect.name == "sqlite":
        engine.dispose()
        Path(str(engine.url.database)).unlink()
    else:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    shutil.rmtree(evidence_root)


def test_a_backup_restored_on_an_empty_machine_brings_back_records_and_photos(
        engine: Engine, factory, zone: Zone, app: Flask, tmp_path: Path) -> None:
    hazard_id = _report_with_photos(app, zone)
    before = _counts(factory)
    summary = backup(engine, _evidence_root(app), tmp_path / "backup", T0, progress=lambda _: None)
    assert summary.evidence_files == 4  # two photos and their thumbnails
    _wipe(engine, _evidence_root(app))

    restore(engine, _evidence_root(app), tmp_path / "backup", progress=lambda _: None)
    upgrade_to_head(engine)
    assert _counts(factory) == before
    with transaction(factory) as s:
        assert audit.verify_chain(s) == []
        assert evidence_problems(s, EvidenceStore(_evidence_root(app))) == []
        photo = s.scalars(select(Evidence).where(Evidence.hazard_id == hazard_id).order_by(Evidence.id)).first()
    client = app.test_client()
    sign_in(client, "boss")
    served = client.get(f"/photos/{photo.id}")
    assert served.status_code == 200 and served.data == png("red")


def test_a_damaged_backup_is_refused_naming_the_file_and_nothing_is_restored(
        engine: Engine, factory, zone: Zone, app: Flask, tmp_path: Path) -> None:
    _report_with_photos(app, zone)
    backup(engine, _evidence_root(app), tmp_path / "backup", T0, progress=lambda _: None)
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    altered = next(name for name in manifest["files"] if name.startswith("evidence/") and "thumb" not in name)
    (tmp_path / "backup" / altered).write_bytes(png("green"))
    _wipe(engine, _evidence_root(app))
    with pytest.raises(BackupError, match=f"{altered}: altered"):
        restore(engine, _evidence_root(app), tmp_path / "backup", progress=lambda _: None)
    with engine.connect() as connection:
        assert connection.dialect.get_table_names(connection) == []
    assert not _evidence_root(app).exists()


def test_a_restore_never_overwrites_a_zones_data(engine: Engine, factory, zone: Zone, app: Flask,
                                                  tmp_path: Path) -> None:
    _report_with_photos(app, zone)
    backup(engine, _evidence_root(app), tmp_path / "backup", T0, progress=lambda _: None)
    before = _counts(factory)
    with pytest.raises(BackupError, match="not empty"):
        restore(engine, _evidence_root(app), tmp_path / "backup", progress=lambda _: None)
    with pytest.raises(BackupError, match="not empty"):
        backup(engine, _evidence_root(app), tmp_path / "backup", T0, progress=lambda _: None)
    assert _counts(factory) == before


def test_verify_names_a_lost_or_altered_photo_and_the_page_shows_a_placeholder_not_an_error(
        engine: Engine, factory, zone: Zone, app: Flask, tmp_path: Path, monkeypatch) -> None:
    hazard_id = _report_with_photos(app, zone)
    store = EvidenceStore(_evidence_root(app))
    with transaction(factory) as s:
        first, second = s.scalars(select(Evidence).where(Evidence.hazard_id == hazard_id).order_by(Evidence.id))
        s.expunge_all()
    store.path(first.sha256).unlink()
    store.path(second.sha256).write_bytes(b"not the photo")
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("WORKFLOW_APP_INSTANCE_DIR", app.instance_path)
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"evidence file {first.sha256} of evidence {first.id} (hazard {hazard_id}) is missing" in result.output
    assert f"evidence file {second.sha256} of evidence {second.id} (hazard {hazard_id}) was altered" in result.output
    client = app.test_client()
    sign_in(client, "boss")
    placeholder = client.get(f"/photos/{first.id}")
    assert placeholder.status_code == 404 and placeholder.mimetype == "image/svg+xml"
    assert "证据文件缺失" in placeholder.get_data(as_text=True)


def test_backup_and_restore_from_the_command_line(engine: Engine, factory, zone: Zone, app: Flask, tmp_path: Path,
                                                  monkeypatch) -> None:
    _report_with_photos(app, zone)
    before = _counts(factory)
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("WORKFLOW_APP_INSTANCE_DIR", app.instance_path)
    made = CliRunner().invoke(main, ["backup", "--out", str(tmp_path / "nightly")])
    assert made.exit_code == 0 and "2 evidence files" not in made.output and "4 evidence files" in made.output
    _wipe(engine, _evidence_root(app))
    restored = CliRunner().invoke(main, ["restore", str(tmp_path / "nightly")])
    assert restored.exit_code == 0, restored.output
    assert _counts(factory) == before
    assert CliRunner().invoke(main, ["audit", "verify"]).exit_code == 0
