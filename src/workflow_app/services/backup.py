"""Backup and restore: the database and the evidence files as one consistent snapshot.

A backup folder holds the database (PostgreSQL: `pg_dump` custom format, taken in one
snapshot; SQLite: the online backup API, safe while the app runs), a copy of the evidence
folder, and `manifest.json` with every file's SHA-256, written last: a folder without it is
an unfinished backup. The dump comes first: evidence files are written before the row that
refers to them commits and are never deleted, so the folder copied afterwards holds every
file the dump refers to.

A restore checks every hash first and goes only into an empty database and an empty evidence
folder, so it can never overwrite a zone's data.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL

from .evidence_integrity import file_sha256

MANIFEST = "manifest.json"
EVIDENCE = "evidence"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
FORMAT = 1
Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why (and names the files)."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds (or a restore brought back)."""

    folder: Path
    schema_revision: str | None
    evidence_files: int
    total_bytes: int


def backup(engine: Engine, evidence_root: Path, out: Path, now: datetime, progress: Progress = print) -> BackupSummary:
    """Write a snapshot of the database and the evidence files into the new or empty folder `out`."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: give a new folder for each backup")
    out.mkdir(parents=True, exist_ok=True)
    kind = _kind(engine)
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    database_file = out / DATABASE_FILES[kind]
    progress(f"database ({kind}) → {database_file.name}")
    (_dump_postgres if kind == "postgresql" else _dump_sqlite)(engine.url, database_file)
    files = {database_file.name: file_sha256(database_file)}
    copied = 0
    for relative in _files_under(evidence_root):
        target = out / EVIDENCE / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(evidence_root / relative, target)
        files[f"{EVIDENCE}/{relative.as_posix()}"] = file_sha256(target)
        copied += 1
        if copied % 500 == 0:
            progress(f"evidence files copied: {copied}")
    manifest = {"format": FORMAT, "created_at": now.isoformat(), "database": kind, "schema_revision": revision,
                "files": files}
    _write_atomically(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    progress(f"backup written: {len(files)} files, manifest {MANIFEST}")
    return BackupSummary(out, revision, copied, sum((out / name).stat().st_size for name in files))


def restore(engine: Engine, evidence_root: Path, folder: Path, progress: Progress = print) -> BackupSummary:
    """Bring a backup back into an empty database and evidence folder, after checking every file's hash.
    The caller migrates the restored database to the current schema afterwards."""
    manifest = _checked_manifest(folder)
    kind = _kind(engine)
    if manifest["database"] != kind:
        raise BackupError(f"this backup is of a {manifest['database']} database, the target is {kind}")
    if inspect(engine).get_table_names():
        raise BackupError("the target database is not empty: restore only into a new, empty database")
    if evidence_root.exists() and any(evidence_root.iterdir()):
        raise BackupError(f"the evidence folder {evidence_root} is not empty")
    database_file = folder / DATABASE_FILES[kind]
    progress(f"database ({kind}) ← {database_file.name}")
    engine.dispose()
    (_load_postgres if kind == "postgresql" else _load_sqlite)(engine.url, database_file)
    evidence = [name for name in manifest["files"] if name.startswith(f"{EVIDENCE}/")]
    for count, name in enumerate(evidence, start=1):
        target = evidence_root / name.removeprefix(f"{EVIDENCE}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / name, target)
        if count % 500 == 0:
            progress(f"evidence files restored: {count}")
    progress(f"restored: database and {len(evidence)} evidence files")
    return BackupSummary(folder, manifest["schema_revision"], len(evidence),
                         sum((folder / name).stat().st_size for name in manifest["files"]))


def _checked_manifest(folder: Path) -> dict:
    """The manifest, once every file it lists is present, inside the folder and unaltered."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} holds no readable {MANIFEST} (an unfinished or foreign backup): {exc}") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{folder / MANIFEST} is not a backup manifest this version understands")
    problems = []
    root = folder.resolve()
    for name, expected in sorted(manifest["files"].items()):
        path = (folder / name).resolve()
        if not path.is_relative_to(root):
            problems.append(f"{name}: outside the backup folder")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif file_sha256(path) != expected:
            problems.append(f"{name}: altered (hash differs from the manifest)")
    if problems:
        raise BackupError("the backup is damaged, nothing was restored: " + "; ".join(problems))
    return manifest


def _kind(engine: Engine) -> str:
    if engine.dialect.name not in DATABASE_FILES:
        raise BackupError(f"backups of {engine.dialect.name} databases are not supported")
    if engine.dialect.name == "sqlite" and not engine.url.database:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return engine.dialect.name


def _files_under(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith(".upload-"):  # a write under way is not evidence yet
                yield path.relative_to(root)


def _dump_sqlite(url: URL, target: Path) -> None:
    _sqlite_copy(Path(str(url.database)), target)


def _load_sqlite(url: URL, source_file: Path) -> None:
    _sqlite_copy(source_file, Path(str(url.database)))


def _sqlite_copy(source_file: Path, target_file: Path) -> None:
    """SQLite's online backup: a consistent copy even while other connections write."""
    source, target = sqlite3.connect(str(source_file)), sqlite3.connect(str(target_file))
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore without its password, which goes in the environment instead
    (never on a command line other users can read)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _dump_postgres(url: URL, target: Path) -> None:
    uri, env = _libpq(url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target), "--dbname", uri], env)


def _load_postgres(url: URL, source_file: Path) -> None:
    uri, env = _libpq(url)
    _run(["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", "--dbname", uri,
          str(source_file)], env)


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (apt-get install postgresql-client)") from None
    except subprocess.CalledProcessError as failed:
        raise BackupError(f"{command[0]} failed: {failed.stderr.strip()[-500:]}") from None


def _write_atomically(target: Path, content: str) -> None:
    partial = target.with_suffix(".partial")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, target)
