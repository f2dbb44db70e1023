"""Resumable uploads into the blob store, artifacts (manifests of blobs), and their local materialization.

Protocol (tus-like): create an upload with its size, send bytes at `Upload-Offset` in one or more requests,
ask the offset after an interruption and continue, then complete it with the sha256 the client computed.
Only a verified blob is stored, and only blobs this workspace uploaded may go into its artifacts. An upload
belongs to the account that started it: nobody else may see, continue, complete or cancel it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..errors import InvalidParameter, NotFound, PayloadTooLarge
from .authz import Caller
from .blobs import SHA256, BlobStore
from .db import Store
from .ids import new_id, utcnow
from .safety import confined_path, safe_relpath
from .schema import Artifact, Upload, WorkspaceBlob
from .secretguard import refuse_secrets
from .staging import Staging, Writer

MAX_FILES = 10_000


def check_digest(value: Any) -> str:
    if not isinstance(value, str) or not SHA256.match(value):
        raise InvalidParameter(
            "A sha256 digest must be 64 lowercase hex characters.",
            code="InvalidParameter.Digest",
            hint="Send hashlib.sha256(data).hexdigest() of the file's bytes.",
        )
    return value


def _not_found() -> NotFound:
    return NotFound(
        "The upload does not exist in this workspace.",
        code="Upload.NotFound",
        hint="Start a new upload; an upload belongs to the account and workspace that created it.",
    )


class Uploads:
    def __init__(self, store: Store, blobs: BlobStore, staging: Staging, scratch: Path, max_size: int) -> None:
        self.store, self.blobs, self.staging, self.max_size = store, blobs, staging, max_size
        self.scratch = scratch  # local files on their way into the blobs (imports, assembled uploads)
        scratch.mkdir(parents=True, exist_ok=True)

    def create(
        self, caller: Caller, size: Any, sha256: str | None = None, resume_key: str | None = None
    ) -> tuple[Upload | None, str | None]:
        """Start an upload, or return the caller's own one under `resume_key` to continue it.

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
                    select(Upload).where(
                        Upload.workspace_id == caller.workspace_id,
                        Upload.account_id == caller.principal.account_id,
                        Upload.resume_key == resume_key,
                    )
                )
                if found is not None and found.size == size and self.staging.offset(found.id) is not None:
                    return found, None
                if found is not None:  # the file changed since: start over
                    db.delete(found)
                    db.flush()
                    self.staging.discard(found.id)
            upload = Upload(
                id="upl-" + secrets.token_hex(12), workspace_id=caller.workspace_id,
                account_id=caller.principal.account_id, size=size, resume_key=resume_key, created_at=utcnow(),
            )  # fmt: skip
            db.add(upload)
            self.staging.create(upload.id)
        return upload, None

    def get(self, caller: Caller, upload_id: str) -> tuple[Upload, int]:
        """The caller's own upload and how many bytes it holds."""
        with self.store.read() as db:
            upload = db.get(Upload, upload_id)
        owner = (caller.workspace_id, caller.principal.account_id)
        if upload is None or (upload.workspace_id, upload.account_id) != owner:
            raise _not_found()  # someone else's upload answers as if it did not exist
        offset = self.staging.offset(upload_id)
        if offset is None:
            raise NotFound("The upload was removed.", code="Upload.NotFound", hint="Start a new upload.")
        return upload, offset

    def open_writer(self, caller: Caller, upload_id: str, offset: int) -> Writer:
        caller.require("register")
        upload, _ = self.get(caller, upload_id)
        return self.staging.writer(upload, offset)

    def complete(self, caller: Caller, upload_id: str, sha256: str) -> int:
        """Verify and store the blob; its size. Asking again after an interruption finishes the same work, and
        asking again after it finished (a reply lost with its replica, the balancer retrying the request on
        another) answers the same: the upload is gone, the blob it became is the workspace's."""
        caller.require("register")
        check_digest(sha256)
        try:
            upload, _ = self.get(caller, upload_id)
        except NotFound:
            with self.store.read() as db:
                kept = db.get(WorkspaceBlob, (caller.workspace_id, sha256))
            if kept is None:
                raise
            return kept.size
        verified, digest = self.staging.verified(upload)
        if digest != sha256:
            self._drop(upload_id, verified)
            raise InvalidParameter(
                "The uploaded bytes do not match the sha256 the client declared; nothing was stored.",
                code="Artifact.DigestMismatch",
                hint="The file changed or was corrupted in transit: upload it again.",
            )
        self.keep(caller, verified, digest, upload.size, upload_id=upload_id)
        return upload.size

    def keep(self, caller: Caller, verified: Path, digest: str, size: int, *, upload_id: str | None = None) -> None:
        """Store a verified, fsynced local file as blob `digest` of the caller's workspace, then release it
        (and the upload's staged bytes) once the database has recorded the blob."""
        try:
            refuse_secrets(self.store, self.scratch.parent, verified, size)  # the scratch folder is in the home
        except InvalidParameter:
            self._drop(upload_id, verified)
            raise
        os.chmod(verified, 0o444)  # its bytes are final: the blob may be this very file
        self.blobs.put(verified, digest)
        with self.store.write() as db:
            self.store.lock(db, digest)  # against the garbage collector removing it right now
            if not self.blobs.has(digest):  # collected between the put and this transaction
                self.blobs.put(verified, digest)
            if db.get(WorkspaceBlob, (caller.workspace_id, digest)) is None:
                db.add(WorkspaceBlob(workspace_id=caller.workspace_id, digest=digest, size=size, created_at=utcnow()))
            if upload_id is not None:
                db.execute(Upload.__table__.delete().where(Upload.id == upload_id))
        self._release(upload_id, verified)

    def abort(self, caller: Caller, upload_id: str) -> None:
        caller.require("register")
        self.get(caller, upload_id)
        with self.store.write() as db:
            db.execute(Upload.__table__.delete().where(Upload.id == upload_id))
        self.staging.discard(upload_id)

    def _drop(self, upload_id: str | None, verified: Path) -> None:
        """A refused upload leaves nothing behind: its row, its staged bytes, its verified file."""
        if upload_id is not None:
            with self.store.write() as db:
                db.execute(Upload.__table__.delete().where(Upload.id == upload_id))
        self._release(upload_id, verified)

    def _release(self, upload_id: str | None, verified: Path) -> None:
        verified.unlink(missing_ok=True)
        if upload_id is not None:
            self.staging.discard(upload_id)


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
