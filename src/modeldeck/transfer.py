"""The client side of the platform's upload protocol: hash while sending, resume where it stopped.

A server on this machine (the home's embedded server) is first asked to import the file by its path,
which it copies and hashes itself in one pass; any other server, or a refusal, means an upload.

A file is sent in one streamed request while its sha256 is computed from the same reads, so a checkpoint
is read once. If the connection drops, the client asks the server how many bytes it kept and continues
from there; a new process finds the same upload again by its resume key. Folders are uploaded file by
file and bound into one artifact; symlinks, hardlinks and special files are refused, since they could
smuggle files from outside the folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from ._digest import sha256_prefix
from ._http import RETRY_STATUSES, is_loopback, raise_for
from .errors import DeckError, InvalidParameter, from_response

PIECE = 1 << 20  # small enough that a partial socket send never re-copies much of a piece
PREHASH_BELOW = 64 << 20  # small files are hashed first, so a blob the workspace holds is not sent again
Progress = Callable[[int], None]  # called with the number of new bytes sent


def check(response: httpx.Response) -> httpx.Response:
    raise_for(response, from_response)
    return response


def resume_key(path: Path) -> str:
    """Names an upload by what it sends, so any later process uploading the same file resumes it."""
    info = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()


def _hash_prefix(path: Path, length: int) -> Any:
    with open(path, "rb") as fh:
        return sha256_prefix(fh, length)


def _sha256(path: Path) -> str:
    return _hash_prefix(path, path.stat().st_size).hexdigest()


def _body(path: Path, offset: int, hasher: Any, progress: Progress) -> Iterator[bytes]:
    """The file from `offset`, in 1 MiB pieces, hashed in a helper thread while the pieces are sent.

    hashlib releases the GIL on large buffers, so hashing and sending overlap; a single worker keeps the
    updates in order, and at most a few pieces wait for it, so memory stays bounded.
    """
    with open(path, "rb") as fh, ThreadPoolExecutor(1, thread_name_prefix="modeldeck-hash") as pool:
        fh.seek(offset)
        waiting: deque[Future[None]] = deque()
        while data := fh.read(PIECE):
            waiting.append(pool.submit(hasher.update, data))
            if len(waiting) > 8:
                waiting.popleft().result()
            yield data
            progress(len(data))
        for pending in waiting:
            pending.result()


def import_file(client: httpx.Client, path: Path) -> str | None:
    """Ask a server on this machine to copy the file in itself (its sha256), or None: then upload it.

    Only the home's embedded server imports, and only for the main account's key, regular files of its own
    user; it checks that the file it opens is the one described here, so a server that sees another
    filesystem (a container, another machine behind a forwarded port) refuses instead of copying another file.
    """
    if not _may_import(client):
        return None
    info = os.stat(path, follow_symlinks=False)
    described = {"path": os.path.abspath(path), "size": info.st_size, "device": info.st_dev,
                 "inode": info.st_ino, "mtime_ns": info.st_mtime_ns}  # fmt: skip
    response = client.post("/api/v1/imports", json=described, timeout=httpx.Timeout(None, connect=10.0))
    if response.is_success:
        return response.json()["sha256"]
    code = response.json().get("code") if "json" in response.headers.get("content-type", "") else None
    if code in _NOT_HERE or response.status_code in (404, 405):  # not this server (or an older one)
        _no_imports.add(client)
        return None
    if code in _NOT_THIS_FILE:
        return None
    check(response)
    return None


_NOT_HERE = ("Import.Disabled", "Import.AccessDenied")
_NOT_THIS_FILE = ("Import.Refused", "Import.Changed")
_no_imports: weakref.WeakSet[httpx.Client] = weakref.WeakSet()


def _may_import(client: httpx.Client) -> bool:
    """Only a loopback server can share this machine's files; a refusing server is asked once per client."""
    return client not in _no_imports and is_loopback(client.base_url.host)


def upload_file(client: httpx.Client, path: Path, *, progress: Progress | None = None, retries: int = 5) -> str:
    """Put one file into the current workspace's blobs (imported by a same-machine server, else uploaded);
    return its verified sha256."""
    path = Path(path)
    size = path.stat().st_size
    imported = import_file(client, path)
    if imported is not None:
        if progress:
            progress(size)
        return imported
    known = _sha256(path) if size < PREHASH_BELOW else None
    body = {"size": size, "sha256": known, "resume_key": resume_key(path)}
    created = check(client.post("/api/v1/uploads", json=body)).json()
    if created["complete"]:
        if progress:
            progress(size)
        return created["sha256"]
    upload_id, offset = created["id"], created["offset"]
    hasher = _hash_prefix(path, offset) if offset else hashlib.sha256()
    reported = 0

    def advance(delta: int) -> None:
        nonlocal reported
        reported += delta
        if progress:
            progress(delta)

    advance(offset)  # bytes an earlier, interrupted process already sent
    for attempt in range(retries + 1 if offset < size else 0):
        try:
            response = client.patch(
                f"/api/v1/uploads/{upload_id}",
                content=_body(path, offset, hasher, advance),
                headers={
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    # A declared length lets the bytes go out as they are instead of as chunked frames.
                    "Content-Length": str(size - offset),
                },
                timeout=httpx.Timeout(60.0, connect=10.0),
            )
            check(response)
            offset = int(response.headers["Upload-Offset"])
            if offset == size:
                break
        except (httpx.TransportError, DeckError) as exc:
            if attempt == retries or (isinstance(exc, DeckError) and not _resumable(exc)):
                raise
        # Resume: ask what the server kept, and rebuild our hash of exactly that prefix.
        offset = int(check(client.head(f"/api/v1/uploads/{upload_id}")).headers["Upload-Offset"])
        hasher = _hash_prefix(path, offset)
        advance(offset - reported)  # back to what the server holds; resending advances it again
    digest = hasher.hexdigest()
    check(client.post(f"/api/v1/uploads/{upload_id}/complete", json={"sha256": digest}))
    return digest


def _resumable(error: DeckError) -> bool:
    """Another writer, a stale offset, or a gateway that lost its server: ask the offset and go on."""
    return error.code in ("Upload.Busy", "Upload.OffsetMismatch") or error.status in RETRY_STATUSES


def checkpoint_bytes(path: Path) -> int:
    """The bytes an upload of `path` (a file or a checkpoint folder) sends."""
    return sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())


def checkpoint_files(root: Path) -> list[tuple[str, Path]]:
    """The regular files of a checkpoint folder, as (relative posix path, path); refuses links."""
    root = Path(root)
    if root.is_symlink():
        raise _link_error(root.name)
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames):
            if (Path(dirpath) / name).is_symlink():
                raise _link_error(os.path.relpath(Path(dirpath) / name, root))
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = Path(os.path.relpath(full, root)).as_posix()
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise _link_error(rel)
            if not stat.S_ISREG(info.st_mode):
                raise InvalidParameter(
                    f"{rel!r} in the checkpoint folder is not a regular file.",
                    code="InvalidParameter.Path",
                    hint="Remove sockets, pipes and device files from the folder.",
                )
            if info.st_nlink > 1:
                raise InvalidParameter(
                    f"{rel!r} in the checkpoint folder is a hard link.",
                    code="InvalidParameter.Path",
                    hint="Hard links can expose files from outside the folder: copy the file in instead.",
                )
            files.append((rel, full))
    if not files:
        raise InvalidParameter(
            "The checkpoint folder holds no files.", code="InvalidParameter.Path", hint="Point at the saved model."
        )
    return files


def _link_error(rel: str) -> InvalidParameter:
    return InvalidParameter(
        f"{rel!r} in the checkpoint is a symbolic link.",
        code="InvalidParameter.Path",
        hint="Links could pull in files from outside the checkpoint: copy the real file in instead.",
    )


def upload_artifact(client: httpx.Client, path: Path, *, progress: Progress | None = None) -> dict[str, Any]:
    """Upload a file or a whole folder and bind it into an artifact; returns the artifact (with its uri)."""
    path = Path(path)
    if path.is_dir() or path.is_symlink():
        entries = checkpoint_files(path)
    elif path.is_file():
        entries = [(path.name, path)]
    else:
        raise InvalidParameter(
            f"No file or folder at {str(path)!r}.", code="InvalidParameter.Path", hint="Check the path."
        )
    manifest = []
    for rel, full in entries:
        digest = upload_file(client, full, progress=progress)
        manifest.append({"path": rel, "sha256": digest, "size": full.stat().st_size})
    return check(client.post("/api/v1/artifacts", json={"files": manifest})).json()
