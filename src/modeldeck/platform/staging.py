"""Where an upload's bytes wait until their digest is verified: beside the blobs they will become.

Two kinds, chosen by the blob store:
- `LocalStaging`: one file per upload on a local disk (the home's own uploads folder, or a folder next to
  a local blob store that several processes share). Appends are one gathered write, hashed as they land.
- `StoreStaging`: for blobs in an object store (S3 ...), where replicas on several machines share nothing
  else. Each PATCH becomes one object named by the offset it starts at, so an upload may be continued and
  completed on any replica; completing assembles the chain while hashing it, in one pass.

Either way the staged bytes stay until the database records the blob, so a completion interrupted
anywhere (even between placing the blob and the commit) is finished by asking again, with no byte resent.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from .._digest import sha256_prefix
from ..errors import Conflict, InvalidParameter, PayloadTooLarge
from .blobs import modified
from .schema import Upload

if TYPE_CHECKING:
    from .blobs import BlobStore
    from .settings import Settings

READ = 8 << 20


class OffsetMismatch(Conflict):
    code = "Upload.OffsetMismatch"

    def __init__(self, offset: int) -> None:
        super().__init__(
            f"The upload is at offset {offset}, not where this request starts.",
            hint=f"Resume by sending the bytes from offset {offset} (HEAD the upload to read it).",
        )
        self.offset = offset


def incomplete(held: int, size: int) -> InvalidParameter:
    return InvalidParameter(
        f"The upload holds {held} of {size} bytes.",
        code="Upload.Incomplete",
        hint=f"Send the remaining bytes from offset {held}, then complete it.",
    )


class Writer(Protocol):
    offset: int

    def write(self, chunks: list[bytes]) -> None: ...

    def close(self) -> None: ...


class Staging(Protocol):
    def create(self, upload_id: str) -> None: ...

    def offset(self, upload_id: str) -> int | None:
        """Bytes held so far; None when the staged bytes are gone."""

    def writer(self, upload: Upload, offset: int) -> Writer: ...

    def verified(self, upload: Upload) -> tuple[Path, str]:
        """A local, fsynced file with exactly the upload's bytes, and their sha256."""

    def discard(self, upload_id: str) -> None: ...

    def entries(self) -> Iterator[tuple[str, datetime]]:
        """(upload id, last change) of everything staged, for the garbage collector."""


def _too_many(size: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"More bytes were sent than the {size} declared for this upload.",
        hint="Send exactly the declared size; start a new upload for a different file.",
    )


# ---- one file per upload on a local disk ---------------------------------------------------------------


@dataclass
class _Progress:
    offset: int
    hasher: Any


class LocalStaging:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._progress: dict[str, _Progress] = {}
        self._lock = threading.Lock()

    def path(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.part"

    def create(self, upload_id: str) -> None:
        os.close(os.open(self.path(upload_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    def offset(self, upload_id: str) -> int | None:
        try:
            return self.path(upload_id).stat().st_size
        except FileNotFoundError:
            return None

    def writer(self, upload: Upload, offset: int) -> LocalWriter:
        return LocalWriter(self, upload, offset)

    def verified(self, upload: Upload) -> tuple[Path, str]:
        staged = self.path(upload.id)
        with open(staged, "rb") as fh:
            _lock(fh)
            size = os.fstat(fh.fileno()).st_size
            if size != upload.size:
                raise incomplete(size, upload.size)
            digest = self._hasher_at(upload.id, fh, size).hexdigest()
            os.fsync(fh.fileno())
        return staged, digest

    def discard(self, upload_id: str) -> None:
        self.path(upload_id).unlink(missing_ok=True)
        with self._lock:
            self._progress.pop(upload_id, None)

    def entries(self) -> Iterator[tuple[str, datetime]]:
        for path in self.root.glob("*.part"):
            try:
                yield path.stem, modified({"mtime": path.stat().st_mtime})
            except FileNotFoundError:
                continue

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


class LocalWriter:
    """Appends to one upload, hashing as it writes; one writer per upload at a time, across processes."""

    def __init__(self, staging: LocalStaging, upload: Upload, offset: int) -> None:
        self.staging, self.upload = staging, upload
        path = staging.path(upload.id)
        try:
            self._fh = open(path, "rb+", buffering=0)  # unbuffered: os.writev on its fd
        except PermissionError:  # verified and read-only: it takes no more bytes, but answers its offset
            self._fh = open(path, "rb", buffering=0)
        try:
            _lock(self._fh)
            self.offset = os.fstat(self._fh.fileno()).st_size
            if offset != self.offset:
                raise OffsetMismatch(self.offset)
            self._hasher = staging._hasher_at(upload.id, self._fh, self.offset)
            self._fh.seek(self.offset)
        except BaseException:
            self._fh.close()
            raise

    def write(self, chunks: list[bytes]) -> None:
        """Append chunks as they arrived: one gathered write, no joining copy, each chunk hashed in place."""
        length = sum(map(len, chunks))
        if self.offset + length > self.upload.size:
            raise _too_many(self.upload.size)
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
            self.staging._remember(self.upload.id, self.offset, self._hasher)
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


# ---- a chain of objects per upload in the shared object store -----------------------------------------


class StoreStaging:
    """Upload `id` is the objects `ROOT/id/<offset>`; its offset is where the chain from 0 ends.

    An object appears whole or not at all, so the chain is always a prefix of what was sent; should two
    replicas race on one offset, the chain stays consistent and the final digest check decides.
    """

    def __init__(self, fs: Any, root: str, scratch: Path) -> None:
        self.fs, self.root, self.scratch = fs, root, scratch
        scratch.mkdir(parents=True, exist_ok=True)

    def _dir(self, upload_id: str) -> str:
        return f"{self.root}/{upload_id}"

    def _chain(self, upload_id: str) -> list[tuple[str, int]]:
        folder = self._dir(upload_id)
        self.fs.invalidate_cache(folder)
        try:
            listing = self.fs.ls(folder, detail=True)
        except FileNotFoundError:
            return []
        parts = {}
        for info in listing:
            name = info["name"].rsplit("/", 1)[-1]
            if name.isdigit() and info.get("size"):
                parts[int(name)] = (info["name"], int(info["size"]))
        chain, at = [], 0
        while at in parts:
            chain.append(parts[at])
            at += parts[at][1]
        return chain

    def create(self, upload_id: str) -> None:
        """Nothing to make: an object store has no empty folders, and an empty chain is offset 0."""

    def offset(self, upload_id: str) -> int:
        return sum(size for _, size in self._chain(upload_id))

    def writer(self, upload: Upload, offset: int) -> StoreWriter:
        held = self.offset(upload.id)
        if offset != held:
            raise OffsetMismatch(held)
        return StoreWriter(self, upload, offset)

    def spool(self) -> Path:
        return self.scratch / f"spool-{secrets.token_hex(12)}.part"

    def verified(self, upload: Upload) -> tuple[Path, str]:
        chain = self._chain(upload.id)
        held = sum(size for _, size in chain)
        if held != upload.size:
            raise incomplete(held, upload.size)
        hasher = hashlib.sha256()
        out = self.spool()
        with open(out, "wb") as dst:
            for key, _ in chain:
                with self.fs.open(key, "rb") as src:
                    while data := src.read(READ):
                        hasher.update(data)
                        dst.write(data)
            dst.flush()
            os.fsync(dst.fileno())
        return out, hasher.hexdigest()

    def discard(self, upload_id: str) -> None:
        try:
            self.fs.rm(self._dir(upload_id), recursive=True)
        except FileNotFoundError:
            pass

    def entries(self) -> Iterator[tuple[str, datetime]]:
        self.fs.invalidate_cache(self.root)
        if not self.fs.exists(self.root):
            return
        newest: dict[str, datetime] = {}
        for path, info in self.fs.find(self.root, detail=True).items():
            upload_id = path[len(self.root) :].strip("/").split("/", 1)[0]
            when = modified(info)
            newest[upload_id] = max(when, newest.get(upload_id, when))
        yield from newest.items()


class StoreWriter:
    """Spools one request's bytes on local disk, then stores them as the next object of the chain; bytes
    that arrived before a disconnect are kept too. A replica killed mid-request loses only that request."""

    def __init__(self, staging: StoreStaging, upload: Upload, offset: int) -> None:
        self.staging, self.upload, self.start = staging, upload, offset
        self.offset = offset
        self._path = staging.spool()
        self._fh = open(self._path, "wb")

    def write(self, chunks: list[bytes]) -> None:
        length = sum(map(len, chunks))
        if self.offset + length > self.upload.size:
            raise _too_many(self.upload.size)
        self._fh.writelines(chunks)
        self.offset += length

    def close(self) -> None:
        try:
            self._fh.close()
            if self.offset > self.start:
                key = f"{self.staging._dir(self.upload.id)}/{self.start:016d}"
                self.staging.fs.put_file(str(self._path), key)
        finally:
            self._path.unlink(missing_ok=True)


def staging_for(settings: Settings, blobs: BlobStore) -> Staging:
    """Staged bytes live where their blobs will: in the home for the home's own blobs, beside a shared
    local blob folder, or in the object store, so any replica can continue or complete any upload."""
    scratch = settings.home / "uploads"
    if not blobs.local:
        return StoreStaging(blobs.fs, f"{blobs.root}/staging", scratch)
    return LocalStaging(scratch if settings.blobs_url is None else Path(blobs.root) / "staging")
