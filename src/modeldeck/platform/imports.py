"""Same-machine imports: the embedded server copies a checkpoint file into the blob store by its path.

When the client and the server are one user on one machine, streaming a file over loopback HTTP only adds
copies; the server can read the file itself, hashing while it writes, in one pass. Since that lets a key
make the server read a path, it is refused unless all of these hold:

- the server allows it (`modeldeck serve --embedded`; a team server only with `--allow-local-imports`);
- the caller holds the main account's key (the home's admin key) and may register in the workspace;
- the path names a regular file, not a symlink (O_NOFOLLOW) nor a hard link (st_nlink 1), owned by the
  server's user, outside the platform's home (its keys and database);
- the opened file is the one the client described (device, inode, size, modification time: checked on
  the opened descriptor, so a swap between the client's stat and the server's open is caught), and is
  unchanged after the copy;
- the sha256 the client states, if any, is the digest of the bytes written.
"""

from __future__ import annotations

import hashlib
import os
import queue
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AccessDenied, Conflict, InvalidParameter, PayloadTooLarge
from .artifacts import Uploads, check_digest
from .staging import start_writeback
from .authz import Caller

CHUNK = 8 << 20
BUFFERS = 4  # chunks in flight between the hashing reader and the writer


@dataclass(frozen=True)
class Described:
    """The file as the client saw it (`os.stat`), which the opened file must match."""

    path: str
    size: int
    device: int
    inode: int
    mtime_ns: int


def import_file(uploads: Uploads, caller: Caller, home: Path, enabled: bool, file: Described,
                sha256: str | None = None) -> str:  # fmt: skip
    """Copy the described file into the workspace's blobs; return its sha256."""
    if not enabled:
        raise AccessDenied(
            "This platform does not import files by path.",
            code="Import.Disabled",
            hint="Upload the file (POST /api/v1/uploads); imports are for the home's own embedded server.",
        )
    caller.require("register")
    if not caller.principal.is_main:
        raise AccessDenied(
            "Only the main account's key may import files by path.",
            code="Import.AccessDenied",
            hint="Upload the file (POST /api/v1/uploads) instead.",
        )
    if sha256 is not None:
        check_digest(sha256)
    if file.size > uploads.max_size:
        raise PayloadTooLarge(
            f"The file is {file.size} bytes; this platform stores at most {uploads.max_size} bytes per file.",
            hint="Split the checkpoint into shards, or ask the admin to raise the limit.",
        )
    fd = _open(file, home)
    staged = uploads.scratch / f"imp-{secrets.token_hex(12)}.part"
    try:
        out = os.open(staged, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            digest, copied = hash_copy(fd, out)
            os.fsync(out)
        finally:
            os.close(out)
        after = os.fstat(fd)
        if copied != file.size or after.st_size != file.size or after.st_mtime_ns != file.mtime_ns:
            raise Conflict(
                "The file changed while it was imported; nothing was stored.",
                code="Import.Changed",
                hint="Register it again once nothing writes to it.",
            )
        if sha256 is not None and digest != sha256:
            raise InvalidParameter(
                "The file's bytes do not match the sha256 the client declared; nothing was stored.",
                code="Artifact.DigestMismatch",
                hint="The file changed since it was hashed: register it again.",
            )
        uploads.keep(caller, staged, digest, copied)
        return digest
    finally:
        os.close(fd)
        staged.unlink(missing_ok=True)


def _open(file: Described, home: Path) -> int:
    """The described file, opened without following a final symlink and checked on the open descriptor."""
    if not os.path.isabs(file.path) or "\0" in file.path:
        raise _refused("The path must be absolute.")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(file.path, flags)
    except OSError:  # missing, unreadable, or a symlink (ELOOP): the same answer, naming nothing
        raise _refused("The server cannot open that path as a regular file.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refused("The path is not a regular file.")
        if info.st_nlink != 1:
            raise _refused("The file has hard links; they could expose a file from elsewhere.")
        if info.st_uid != os.geteuid():
            raise _refused("The file belongs to another user than the platform's.")
        seen = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if seen != (file.device, file.inode, file.size, file.mtime_ns):
            raise _refused("The file the server opened is not the one described (another machine, or it changed).")
        real = Path(os.path.realpath(f"/proc/self/fd/{fd}" if os.path.exists("/proc/self/fd") else file.path))
        if real.is_relative_to(home):
            raise InvalidParameter(  # not "upload it instead": its keys and database are never registered
                "The file is inside the platform's home (its keys and database), which is never registered.",
                code="Import.Forbidden",
                hint="Register a checkpoint from outside the platform's home.",
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refused(message: str) -> InvalidParameter:
    return InvalidParameter(message, code="Import.Refused", hint="Upload the file instead (the client falls back to it by itself).")


def hash_copy(src: int, dst: int) -> tuple[str, int]:
    """Copy `src` to `dst` in one pass: this thread reads 8 MiB chunks into reused buffers and hashes them
    while a second thread writes the previous ones. The digest is of exactly the bytes written.

    hashlib and os.write release the GIL on large buffers, so hashing and writing overlap; reusing the
    buffers spares the page faults of a fresh 8 MiB allocation per chunk.
    """
    free: queue.Queue[memoryview] = queue.Queue()
    for _ in range(BUFFERS):
        free.put(memoryview(bytearray(CHUNK)))
    full: queue.Queue[tuple[memoryview, int] | None] = queue.Queue()
    failure: list[BaseException] = []

    def writer() -> None:
        offset = 0
        while (item := full.get()) is not None:
            view, length = item
            try:
                if not failure:
                    _write_all(dst, view[:length])
                    start_writeback(dst, offset, length)
                    offset += length
            except BaseException as exc:
                failure.append(exc)
            free.put(view)

    thread = threading.Thread(target=writer, name="modeldeck-import-writer", daemon=True)
    thread.start()
    hasher: Any = hashlib.sha256()
    total = 0
    try:
        while not failure:
            view = free.get()
            length = os.readv(src, [view])
            if not length:
                free.put(view)
                break
            hasher.update(view[:length])
            full.put((view, length))
            total += length
    finally:
        full.put(None)
        thread.join()
    if failure:
        raise failure[0]
    return hasher.hexdigest(), total


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]
