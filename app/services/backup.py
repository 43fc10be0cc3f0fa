"""Online backups and their restore: the database (SQLite's backup API, or ``pg_dump``) and the
files a restore needs besides it (card-batch print sheets and encrypted activation letters,
uploaded rosters waiting for their import), with a manifest of checksums.

Nothing secret is written in clear: the card-signing keys are in the database as encrypted
PKCS#8, activation letters are files encrypted under the data key, and the data key, lookup key
and key passphrase (the service's settings) are never part of a backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import URL, Engine, make_url

from app.clock import now as utc_now
from app.db import make_engine
from app.services.errors import BackupFailed

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds (or a restore put back)."""

    path: Path
    backend: str
    schema: str | None
    files: int
    bytes: int


def backup(url: str, destination: Path, directories: Mapping[str, Path]) -> BackupSummary:
    """Back up the database at ``url`` and the ``directories`` (name -> place) into
    ``destination`` (new, or an empty directory), while the service keeps writing.

    The database is copied first, as one consistent snapshot; files are copied after it, so
    every file the snapshot refers to is there (a file written later is harmless extra).

    Raises:
        BackupFailed: ``destination`` is not new or empty, or the database copy failed.
    """
    _ensure_empty(destination, "backup")
    destination.mkdir(parents=True, exist_ok=True, mode=0o700)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        database_file = SQLITE_FILE
        _sqlite_backup(_sqlite_path(url), destination / SQLITE_FILE)
    elif backend == "postgresql":
        database_file = PG_FILE
        _run_pg(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                 "--file", str(destination / PG_FILE)], url)
    else:
        raise BackupFailed(f"Cannot back up a {backend} database.")
    schema = _schema_of(destination / SQLITE_FILE) if backend == "sqlite" else _pg_schema(url)
    entries = [_entry(destination, destination / database_file)]
    for name, source in sorted(directories.items()):
        if not source.is_dir():
            continue
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            target = destination / "files" / name / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                shutil.copy2(path, target)
            except FileNotFoundError:
                continue  # removed meanwhile (a job's temporary file)
            entries.append(_entry(destination, target))
    manifest = {"format": FORMAT, "created_at": utc_now().isoformat(), "backend": backend,
                "database": database_file, "schema": schema,
                "directories": sorted(directories), "files": entries}
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (destination / MANIFEST).chmod(0o600)
    return BackupSummary(destination, backend, schema, len(entries),
                         sum(int(e["size"]) for e in entries))


def restore(source: Path, url: str, directories: Mapping[str, Path]) -> BackupSummary:
    """Restore the backup at ``source`` into the new, empty database at ``url`` and the
    ``directories`` (name -> place, each new or empty); every file's checksum is checked first.

    Raises:
        BackupFailed: no readable manifest, a file missing or changed, a backup of the other
            backend, a database or directory that is not empty, or the restore tool failed.
    """
    manifest = read_manifest(source)
    backend = make_url(url).get_backend_name()
    if manifest["backend"] != backend:
        raise BackupFailed(f"This is a {manifest['backend']} backup; it cannot be restored into "
                           f"a {backend} database.")
    for entry in manifest["files"]:
        path = source / entry["path"]
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            raise BackupFailed(f"The backup is damaged: {entry['path']} is missing or changed.")
    for name in manifest["directories"]:
        if name in directories:
            _ensure_empty(directories[name], name)
    if backend == "sqlite":
        target = _sqlite_path(url)
        if target.exists() and target.stat().st_size > 0:
            raise BackupFailed(f"The database {target} exists; restore into a new place.")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _sqlite_backup(source / SQLITE_FILE, target)
    else:
        _ensure_empty_database(url)
        _run_pg(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                 "--single-transaction", str(source / PG_FILE)], url)
    count = 0
    for name in manifest["directories"]:
        stored = source / "files" / name
        if name not in directories or not stored.is_dir():
            continue
        for path in sorted(p for p in stored.rglob("*") if p.is_file()):
            target = directories[name] / path.relative_to(stored)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy2(path, target)
            target.chmod(0o600)
            count += 1
    return BackupSummary(Path(url), backend, manifest["schema"], count + 1,
                         sum(int(e["size"]) for e in manifest["files"]))


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup at ``source``.

    Raises:
        BackupFailed: there is none, or it is not a manifest of this format.
    """
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupFailed(f"{source} is not a unioncard backup (no readable {MANIFEST}).") \
            from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupFailed(f"{source / MANIFEST} is not a backup manifest of format {FORMAT}.")
    return manifest


def _ensure_empty(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupFailed(f"The {what} place {path} exists and is not an empty directory.")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupFailed("An in-memory SQLite database cannot be backed up or restored.")
    return Path(database)


def _sqlite_backup(source: Path, target: Path) -> None:
    """Copy a SQLite database with its online backup API, in one step: one read transaction,
    so the copy is a consistent snapshot; in WAL mode writers go on meanwhile."""
    if not source.is_file():
        raise BackupFailed(f"There is no database at {source}.")
    if target.exists() and target.stat().st_size == 0:
        target.unlink()  # an empty file left by a connection that never wrote
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with closing(sqlite3.connect(source, timeout=30)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # pages=-1: all pages in one step
        status = dst.execute("PRAGMA integrity_check").fetchone()[0]
    if status != "ok":
        raise BackupFailed(f"The copied database fails its integrity check: {status}")


def _schema_of(path: Path) -> str | None:
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _pg_schema(url: str) -> str | None:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.scalar(text("SELECT version_num FROM alembic_version"))
            return None if version is None else str(version)
    finally:
        engine.dispose()


def _ensure_empty_database(url: str) -> None:
    engine: Engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupFailed("The target database is not empty; restore into a new database.")


def _run_pg(args: list[str], url: str) -> None:
    """Run a PostgreSQL client tool on ``url``; the password goes by environment, never argv."""
    parsed: URL = make_url(url)
    env = {**os.environ, "PGPASSWORD": parsed.password or os.environ.get("PGPASSWORD", "")}
    libpq = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False)
    command = [*args[:1], "--dbname", libpq, *args[1:]]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupFailed(f"{args[0]} is not installed (PostgreSQL client tools).") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        raise BackupFailed(f"{args[0]} failed: {first}")


def _entry(root: Path, path: Path) -> dict[str, Any]:
    path.chmod(0o600)  # a backup holds personal data: its owner's only, whatever the umask
    return {"path": str(path.relative_to(root)), "size": path.stat().st_size,
            "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
