"""Garbage collection: blobs no workspace holds, uploads (and multipart uploads) nobody can finish, staged
bytes no upload owns.

Interrupted processes leave these behind (a kill between placing a blob and its commit, an upload never
completed, a staged file created just before a crash). Each is removed only once it is older than a grace
period, so uploads in flight are never touched; a blob is removed under the same lock a completion takes
to record it, so a blob being recorded right now is never lost. Run as `modeldeck gc`, and periodically by
every server (`Settings.gc_interval`); several replicas sweeping at once is safe.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from . import objects
from .artifacts import Uploads
from .blobs import modified
from .ids import utcnow
from .schema import Upload, WorkspaceBlob

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger("modeldeck.platform.gc")
UPLOAD_TTL = timedelta(days=7)  # an upload not completed within a week is abandoned
SCRATCH_PREFIXES = ("imp-", "spool-", "object-")  # local files on their way into the blobs, owned by one request


@dataclass
class Collected:
    blobs: int = 0
    uploads: int = 0
    staged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def collect(uploads: Uploads, *, grace: timedelta, upload_ttl: timedelta = UPLOAD_TTL) -> Collected:
    """One sweep over the database, the staging area and the blob store."""
    store, blobs, staging = uploads.store, uploads.blobs, uploads.staging
    now = utcnow()
    old = now - grace
    done = Collected()
    with store.read() as db:
        rows = db.execute(select(Upload.id, Upload.created_at)).all()
    live = set()
    for upload_id, created in rows:
        if created < now - upload_ttl or (created < old and staging.offset(upload_id) is None):
            with store.write() as db:
                db.execute(Upload.__table__.delete().where(Upload.id == upload_id))
            staging.discard(upload_id)
            done.uploads += 1
        else:
            live.add(upload_id)
    for upload_id, changed in list(staging.entries()):
        if upload_id in live or changed >= old:
            continue
        with store.read() as db:
            if db.get(Upload, upload_id) is not None:  # created since the listing above
                continue
        staging.discard(upload_id)
        done.staged += 1
    if getattr(staging, "root", None) != uploads.scratch:
        for path in uploads.scratch.glob("*.part"):
            if path.name.startswith(SCRATCH_PREFIXES) and _changed(path) < old:
                path.unlink(missing_ok=True)
                done.staged += 1
    done.uploads += objects.sweep(store, blobs, older_than=old, abandoned_before=now - upload_ttl)
    with store.read() as db:
        held = set(db.scalars(select(WorkspaceBlob.digest).distinct()))
    for digest, changed in list(blobs.stored()):
        if digest in held or changed >= old:
            continue
        with store.write() as db:
            store.lock(db, digest)  # a completion recording this digest waits, then puts it back
            if db.scalar(select(WorkspaceBlob.digest).where(WorkspaceBlob.digest == digest).limit(1)) is None:
                blobs.remove(digest)
                done.blobs += 1
    return done


def _changed(path: Any) -> Any:
    try:
        return modified({"mtime": path.stat().st_mtime})
    except FileNotFoundError:
        return utcnow()


def run(settings: Settings, *, grace: timedelta) -> Collected:
    """`modeldeck gc`: one sweep of a home or a team server's store, without starting a server."""
    from .blobs import BlobStore
    from .staging import staging_for
    from .db import Store

    store = Store(settings.database_url)
    try:
        store.migrate()
        blobs = BlobStore(settings.blob_root)
        uploads = Uploads(store, blobs, staging_for(settings, blobs), settings.home / "uploads", settings.max_blob_size)
        return collect(uploads, grace=grace)
    finally:
        store.dispose()


class Sweeper:
    """Collects every `interval` seconds in a daemon thread while the platform runs."""

    def __init__(self, uploads: Uploads, interval: float, grace: timedelta) -> None:
        self.uploads, self.interval, self.grace = uploads, interval, grace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modeldeck-gc", daemon=True)
        self.last: Collected | None = None

    def start(self) -> Sweeper:
        if self.interval > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.last = collect(self.uploads, grace=self.grace)
            except Exception:  # a store briefly unreachable: try again next round
                log.exception("garbage collection failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
