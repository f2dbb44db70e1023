"""`modeldeck backup DEST` / `modeldeck restore SRC`: a home or a team server, database and blobs, consistent.

The database is copied as one snapshot (SQLite's online backup API; pg_dump inside an exported snapshot),
and exactly the blobs that snapshot refers to are copied after it, each verified against its digest.
Blobs never change once stored, so the copy is consistent while the server keeps serving. The home's
admin.key is not part of a backup: keys live in the database as digests and keep working after a restore.
The home's seal.key is (0600), since the database's sealed secrets open with it alone; a key configured
through MODELDECK_SEAL_KEY is not, and the restored server must be started with the same one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import inspect, select, text

from .. import __version__
from ..errors import Conflict, DeckError, InvalidParameter
from .blobs import BlobStore
from .db import Store
from .ids import utcnow
from .schema import WorkspaceBlob
from .sealed import KEY_ENV
from .settings import Settings

MANIFEST = "modeldeck-backup.json"
SQLITE_FILE = "modeldeck.db"
PG_FILE = "database.pgdump"
SEAL_FILE = "seal.key"
CHUNK = 8 << 20


@dataclass
class Made:
    blobs: int


class BackupFailed(DeckError):
    code = "Backup.Failed"
    status = None


def backup(settings: Settings, dest: Path) -> Made:
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"{dest} is not empty.", code="Backup.DestinationNotEmpty", hint="Back up into a new folder.")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)  # the database holds account names and key digests
    store = Store(settings.database_url)
    try:
        if store.is_sqlite:
            digests = _sqlite_snapshot(store, dest / SQLITE_FILE)
        else:
            digests = _pg_snapshot(store, dest / PG_FILE)
    finally:
        store.dispose()
    blobs = BlobStore(settings.blob_root)
    for digest in sorted(digests):
        target = dest / "blobs" / digest[:2] / digest
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            source = blobs.open(digest)
        except FileNotFoundError:
            raise BackupFailed(
                f"The blob {digest[:12]}… the database holds is missing from the store.",
                hint="If garbage collection ran during the backup, run the backup again; else restore it from an older backup.",
            ) from None
        with source, open(target, "wb") as out:
            _copy_verified(source, out, digest)
    sealing = _keep_seal_key(settings, dest)
    manifest = {"format": 1, "modeldeck": __version__, "database": "sqlite" if store.is_sqlite else "postgresql",
                "blobs": len(digests), "seal_key": sealing, "created_at": utcnow().isoformat()}  # fmt: skip
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Made(len(digests))


def restore(src: Path, settings: Settings) -> Made:
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (FileNotFoundError, ValueError):
        raise InvalidParameter(f"{src} is not a modeldeck backup.", code="Backup.NotABackup",
                               hint="Point at a folder written by modeldeck backup.") from None  # fmt: skip
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    _place_seal_key(src, settings)
    store = Store(settings.database_url)
    try:
        kind = "sqlite" if store.is_sqlite else "postgresql"
        if manifest.get("database") != kind:
            raise InvalidParameter(
                f"The backup holds a {manifest.get('database')} database; the target is {kind}.",
                code="Backup.WrongKind",
                hint="Restore into the same kind of database it came from (SQLite home or PostgreSQL --db).",
            )
        with store.engine.connect() as conn:
            if inspect(conn).get_table_names():
                raise Conflict("The target database is not empty.", code="Backup.TargetNotEmpty",
                               hint="Restore into a new home or an empty database.")  # fmt: skip
        if store.is_sqlite:
            store.dispose()
            with sqlite3.connect(src / SQLITE_FILE) as source, sqlite3.connect(_sqlite_path(store)) as target:
                source.backup(target)
        else:
            _run(["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq_url(store), str(src / PG_FILE)], store)
        store.migrate()  # a backup from an older release is upgraded in place
    finally:
        store.dispose()
    blobs = BlobStore(settings.blob_root)
    restored = 0
    for path in sorted((src / "blobs").glob("*/*")):
        with open(path, "rb") as fh:
            _copy_verified(fh, None, path.name)
        blobs.put(path, path.name, link=False)  # a copy: the backup stays apart from the live store
        restored += 1
    return Made(restored)


def _keep_seal_key(settings: Settings, dest: Path) -> str:
    """Copy the home's sealing key beside the database it opens; say where a configured one must come from."""
    if settings.seal_key or os.environ.get(KEY_ENV):
        return "configured"
    if not settings.seal_key_file.exists():
        return "none"
    fd = os.open(dest / SEAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(settings.seal_key_file.read_text())
    return "included"


def _place_seal_key(src: Path, settings: Settings) -> None:
    kept = src / SEAL_FILE
    if not kept.exists() or settings.seal_key or os.environ.get(KEY_ENV):
        return
    target = settings.seal_key_file
    if target.exists():
        if target.read_text().strip() != kept.read_text().strip():
            raise Conflict("The target home already has another sealing key.", code="Backup.TargetNotEmpty",
                           hint="Restore into a new home.")  # fmt: skip
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(kept.read_text())


def _sqlite_path(store: Store) -> str:
    return store.url.split("sqlite:///", 1)[1]


def _sqlite_snapshot(store: Store, target: Path) -> set[str]:
    with sqlite3.connect(_sqlite_path(store)) as source, sqlite3.connect(target) as out:
        source.backup(out)  # one consistent snapshot, while writers carry on
    os.chmod(target, 0o600)
    with contextlib.closing(sqlite3.connect(target)) as snapshot:
        return {row[0] for row in snapshot.execute("SELECT DISTINCT digest FROM workspace_blobs")}


def _pg_snapshot(store: Store, target: Path) -> set[str]:
    """pg_dump runs inside a snapshot this transaction exports; the blob list is read in the same one."""
    with store.engine.connect() as conn:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        digests = set(conn.scalars(select(WorkspaceBlob.digest).distinct()))
        _run(["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", "-f", str(target),
              _libpq_url(store)], store)  # fmt: skip
        conn.rollback()
    os.chmod(target, 0o600)
    return digests


def _libpq_url(store: Store) -> str:
    """The database URL for libpq's tools, without its password (that goes in PGPASSWORD, off the
    command line other users can read)."""
    return store.engine.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(command: list[str], store: Store) -> None:
    if shutil.which(command[0]) is None:
        raise BackupFailed(f"{command[0]} is not installed.", hint="Install PostgreSQL's client tools (Debian: postgresql-client).")
    env = dict(os.environ)
    if store.engine.url.password:
        env["PGPASSWORD"] = str(store.engine.url.password)
    with tempfile.TemporaryFile() as err:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        if done.returncode:
            err.seek(0)
            last = err.read().decode(errors="replace").strip().splitlines()[-1:]
            raise BackupFailed(f"{command[0]} failed: {' '.join(last)}", hint="Check that the database is reachable.")


def _copy_verified(source: IO[bytes], out: IO[bytes] | None, digest: str) -> None:
    """Copy (or, without `out`, only read) a blob's bytes, refusing any that do not match its digest."""
    hasher = hashlib.sha256()
    while data := source.read(CHUNK):
        hasher.update(data)
        if out is not None:
            out.write(data)
    if hasher.hexdigest() != digest:
        raise BackupFailed(f"The blob {digest[:12]}… does not match its digest.", hint="The copy is corrupt: take it again.")
