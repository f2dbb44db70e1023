"""Resumable uploads into the blob store, artifacts (manifests of blobs), and their local materialization.

Protocol (tus-like): create an upload with its size, send bytes at `Upload-Offset` in one or more requests,
ask the offset after an interruption and continue, then complete it with the sha256 the client computed.
The server hashes while it writes, so verification costs no second pass; only a verified blob is stored,
and only blobs this workspace uploaded may go into its artifacts.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from .._digest import sha256_prefix
from ..errors import Conflict, InvalidParameter, NotFound, PayloadTooLarge
from .authz import Caller
from .blobs import BlobStore
from .db import Store
from .ids import new_id, utcnow
from .safety import confined_path, safe_relpath
from .schema import Artifact, Upload, WorkspaceBlob
from .secretguard import refuse_secrets

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_FILES = 10_000


def check_digest(value: Any) -> str:
    if not isinstance(value, str) or not SHA256.match(value):
        raise InvalidParameter(
            "A sha256 digest must be 64 lowercase hex characters.",
            code="InvalidParameter.Digest",
            hint="Send hashlib.sha256(data).hexdigest() of the file's bytes.",
        )
    return value


class OffsetMismatch(Conflict):
    code = "Upload.OffsetMismatch"

    def __init__(self, offset: int) -> None:
        super().__init__(
            f"The upload is at offset {offset}, not where this request starts.",
            hint=f"Resume by sending the bytes from offset {offset} (HEAD the upload to read it).",
        )
        self.offset = offset


@dataclass
class _Progress:
    offset: int
    hasher: Any


class Uploads:
    def __init__(self, store: Store, blobs: BlobStore, staging: Path, max_size: int) -> None:
        self.store, self.blobs, self.staging, self.max_size = store, blobs, staging, max_size
        staging.mkdir(parents=True, exist_ok=True)
        self._progress: dict[str, _Progress] = {}
        self._lock = threading.Lock()

    def _staged(self, upload_id: str) -> Path:
        return self.staging / f"{upload_id}.part"

    def create(
        self, caller: Caller, size: Any, sha256: str | None = None, resume_key: str | None = None
    ) -> tuple[Upload | None, str | None]:
        """Start an upload, or return the one under `resume_key` to continue it.

        When the workspace already holds the blob named by `sha256`, return (None, digest): nothing to send.
        """
        caller.require("register")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidParameter(
                "size must be the file's length in bytes.", code="InvalidParameter.Size", hint="Send os.stat().st_size."
            )
        if size > self.max_size:
            raise PayloadTooLarge(
                f"The file is {size} bytes; this platform stores at most {self.max_size} bytes per file.",
                hint="Split the checkpoint into shards, or ask the admin to raise the limit.",
            )
        if resume_key is not None and not (0 < len(resume_key) <= 128 and resume_key.isascii()):
            raise InvalidParameter(
                "resume_key must be 1 to 128 ASCII characters.",
                code="InvalidParameter.ResumeKey",
                hint="Derive it from the file (path, size, modification time), e.g. as a sha256 hex digest.",
            )
        with self.store.write() as db:
            if sha256 is not None:
                check_digest(sha256)
                if db.get(WorkspaceBlob, (caller.workspace_id, sha256)) is not None and self.blobs.has(sha256):
                    return None, sha256
            if resume_key is not None:
                found = db.scalar(
                    select(Upload).where(Upload.workspace_id == caller.workspace_id, Upload.resume_key == resume_key)
                )
                if found is not None and found.size == size and self._staged(found.id).exists():
                    return found, None
                if found is not None:  # the file changed since: start over
                    db.delete(found)
                    db.flush()
                    self._staged(found.id).unlink(missing_ok=True)
            upload = Upload(
                id="upl-" + secrets.token_hex(12), workspace_id=caller.workspace_id,
                account_id=caller.principal.account_id, size=size, resume_key=resume_key, created_at=utcnow(),
            )  # fmt: skip
            db.add(upload)
            fd = os.open(self._staged(upload.id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        return upload, None

    def get(self, caller: Caller, upload_id: str) -> tuple[Upload, int]:
        """The upload and how many bytes it holds."""
        with self.store.read() as db:
            upload = db.get(Upload, upload_id)
        if upload is None or upload.workspace_id != caller.workspace_id:
            raise NotFound(
                "The upload does not exist in this workspace.",
                code="Upload.NotFound",
                hint="Start a new upload; uploads are kept in the workspace that created them.",
            )
        try:
            return upload, self._staged(upload_id).stat().st_size
        except FileNotFoundError:
            raise NotFound("The upload was removed.", code="Upload.NotFound", hint="Start a new upload.") from None

    def open_writer(self, caller: Caller, upload_id: str, offset: int) -> UploadWriter:
        caller.require("register")
        upload, _ = self.get(caller, upload_id)
        return UploadWriter(self, upload, offset)

    def complete(self, caller: Caller, upload_id: str, sha256: str) -> str:
        caller.require("register")
        check_digest(sha256)
        upload, _ = self.get(caller, upload_id)
        staged = self._staged(upload_id)
        with open(staged, "rb+") as fh:
            _lock(fh)
            size = os.fstat(fh.fileno()).st_size
            if size != upload.size:
                raise InvalidParameter(
                    f"The upload holds {size} of {upload.size} bytes.",
                    code="Upload.Incomplete",
                    hint=f"Send the remaining bytes from offset {size}, then complete it.",
                )
            digest = self._hasher_at(upload_id, fh, size).hexdigest()
            if digest != sha256:
                self._discard(upload_id)
                raise InvalidParameter(
                    "The uploaded bytes do not match the sha256 the client declared; nothing was stored.",
                    code="Artifact.DigestMismatch",
                    hint="The file changed or was corrupted in transit: upload it again.",
                )
            os.fsync(fh.fileno())
        self.keep(caller, staged, digest, size, upload_id=upload_id)
        self._forget(upload_id)
        return digest

    def keep(self, caller: Caller, staged: Path, digest: str, size: int, *, upload_id: str | None = None) -> None:
        """Store a verified, fsynced staged file as blob `digest` of the caller's workspace (consumes it)."""
        try:
            refuse_secrets(self.store, self.staging.parent, staged, size)  # staging lives in the home
        except InvalidParameter:
            self._discard(upload_id) if upload_id is not None else staged.unlink(missing_ok=True)
            raise
        self.blobs.put(staged, digest)
        with self.store.write() as db:
            if db.get(WorkspaceBlob, (caller.workspace_id, digest)) is None:
                db.add(WorkspaceBlob(workspace_id=caller.workspace_id, digest=digest, size=size, created_at=utcnow()))
            if upload_id is not None:
                db.execute(Upload.__table__.delete().where(Upload.id == upload_id))

    def abort(self, caller: Caller, upload_id: str) -> None:
        caller.require("register")
        self.get(caller, upload_id)
        self._discard(upload_id)

    def _discard(self, upload_id: str) -> None:
        with self.store.write() as db:
            db.execute(Upload.__table__.delete().where(Upload.id == upload_id))
        self._staged(upload_id).unlink(missing_ok=True)
        self._forget(upload_id)

    def _forget(self, upload_id: str) -> None:
        with self._lock:
            self._progress.pop(upload_id, None)

    def _hasher_at(self, upload_id: str, fh: IO[bytes], size: int) -> Any:
        """The running hash of the first `size` bytes: kept in memory, rebuilt from disk after a restart."""
        with self._lock:
            progress = self._progress.get(upload_id)
        if progress is not None and progress.offset == size:
            return progress.hasher.copy()
        return sha256_prefix(fh, size)

    def _remember(self, upload_id: str, offset: int, hasher: Any) -> None:
        with self._lock:
            self._progress[upload_id] = _Progress(offset, hasher)


class UploadWriter:
    """Appends to one upload, hashing as it writes; one writer per upload at a time, across processes."""

    def __init__(self, uploads: Uploads, upload: Upload, offset: int) -> None:
        self.uploads, self.upload = uploads, upload
        self._fh = open(uploads._staged(upload.id), "rb+", buffering=0)  # unbuffered: os.writev on its fd
        try:
            _lock(self._fh)
            self.offset = os.fstat(self._fh.fileno()).st_size
            if offset != self.offset:
                raise OffsetMismatch(self.offset)
            self._hasher = uploads._hasher_at(upload.id, self._fh, self.offset)
            self._fh.seek(self.offset)
        except BaseException:
            self._fh.close()
            raise

    def write(self, chunks: list[bytes]) -> None:
        """Append chunks as they arrived: one gathered write, no joining copy, each chunk hashed in place."""
        length = sum(map(len, chunks))
        if self.offset + length > self.upload.size:
            raise PayloadTooLarge(
                f"More bytes were sent than the {self.upload.size} declared for this upload.",
                hint="Send exactly the declared size; start a new upload for a different file.",
            )
        fd = self._fh.fileno()
        views = [memoryview(c) for c in chunks]
        while views:  # writev may write less than asked: continue from where it stopped
            done = os.writev(fd, views[:1024])
            while views and done >= len(views[0]):
                done -= len(views.pop(0))
            if done:
                views[0] = views[0][done:]
        for chunk in chunks:
            self._hasher.update(chunk)
        start_writeback(fd, self.offset, length)
        self.offset += length

    def close(self) -> None:
        """Keep what arrived, even from an interrupted request: it resumes from here."""
        try:
            self.uploads._remember(self.upload.id, self.offset, self._hasher)
        finally:
            self._fh.close()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing these just-written bytes to disk now, without waiting (Linux: dirty pages get written
    back, not dropped; PostgreSQL's pg_flush_data uses the same call). The fsync before commit then waits
    for the last few megabytes instead of the whole file, because the disk worked while the upload arrived.
    """
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _lock(fh: IO[bytes]) -> None:
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise Conflict(
            "Another request is writing this upload right now.",
            code="Upload.Busy",
            hint="Wait for it to finish (or fail), then HEAD the upload and resume from its offset.",
        ) from None


# ---- artifacts ----------------------------------------------------------------------------------------


def create_artifact(db: Any, caller: Caller, files: Any) -> Artifact:
    """Bind uploaded blobs to relative paths. The artifact's digest is the sha256 of its canonical manifest."""
    caller.require("register")
    if not isinstance(files, list) or not 1 <= len(files) <= MAX_FILES:
        raise InvalidParameter(
            f"An artifact needs 1 to {MAX_FILES} files.",
            code="InvalidParameter.Files",
            hint='Send files as [{"path": "model.onnx", "sha256": "...", "size": 123}].',
        )
    manifest: dict[str, dict[str, Any]] = {}
    for item in files:
        if not isinstance(item, dict):
            raise InvalidParameter("Each file must be an object.", code="InvalidParameter.Files",
                                   hint='Use {"path": ..., "sha256": ..., "size": ...}.')  # fmt: skip
        path = safe_relpath(item.get("path"))
        digest = check_digest(item.get("sha256"))
        if path in manifest:
            raise InvalidParameter(f"The path {path!r} appears twice.", code="InvalidParameter.Files",
                                   hint="List each file once.")  # fmt: skip
        blob = db.get(WorkspaceBlob, (caller.workspace_id, digest))
        if blob is None:
            raise InvalidParameter(
                f"The file {path!r} was not uploaded to this workspace.",
                code="Artifact.BlobMissing",
                hint="Upload every file (POST /api/v1/uploads) before creating the artifact.",
            )
        if item.get("size", blob.size) != blob.size:
            raise InvalidParameter(f"The size given for {path!r} does not match its upload.",
                                   code="InvalidParameter.Files", hint="Send the uploaded size.")  # fmt: skip
        manifest[path] = {"path": path, "sha256": digest, "size": blob.size}
    _refuse_file_dir_clash(manifest)
    entries = [manifest[p] for p in sorted(manifest)]
    digest = hashlib.sha256(json.dumps(entries, separators=(",", ":"), sort_keys=True).encode()).hexdigest()
    artifact = db.get(Artifact, (caller.workspace_id, digest))
    if artifact is None:
        artifact = Artifact(
            workspace_id=caller.workspace_id, digest=digest, files=entries,
            size=sum(e["size"] for e in entries), created_at=utcnow(),
        )  # fmt: skip
        db.add(artifact)
        db.flush()
    return artifact


def _refuse_file_dir_clash(manifest: dict[str, Any]) -> None:
    for path in manifest:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in manifest:
                raise InvalidParameter(
                    f"{'/'.join(parts[:i])!r} is both a file and a folder in this artifact.",
                    code="InvalidParameter.Files",
                    hint="Rename one of them.",
                )


def get_artifact(db: Any, caller: Caller, digest: str) -> Artifact:
    caller.require("list")
    artifact = db.get(Artifact, (caller.workspace_id, check_digest(digest)))
    if artifact is None:
        raise NotFound("The artifact does not exist in this workspace.", code="Artifact.NotFound",
                       hint="Artifacts belong to the workspace that uploaded them.")  # fmt: skip
    return artifact


def materialize(blobs: BlobStore, cache_dir: Path, artifact: Artifact) -> Path:
    """The artifact as a real folder on local disk, built aside and renamed into place in one step."""
    final = cache_dir / artifact.digest
    if final.is_dir():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{artifact.digest}.{new_id('tmp')}"
    tmp.mkdir()
    try:
        for entry in artifact.files:
            dest = confined_path(tmp, entry["path"])
            dest.parent.mkdir(parents=True, exist_ok=True)
            blobs.place(entry["sha256"], dest)
        os.rename(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
