"""Buckets and objects over the blob store: what the OSS and OBS facades store (docs/clouds/objects.md).

A bucket is a workspace, named by its id (`ws-3f2a9c0d1e2b`: a valid OSS and OBS bucket name that no
rename changes). An object is a key naming one verified blob of that workspace, so `oss://<bucket>/<key>`
(or `obs://`) registers as a version like an uploaded artifact: `artifact_for` turns the uri into one.
Bytes are hashed while they are copied to disk (MD5 for the ETag, CRC-64/ECMA for oss2's check, sha256
for the blob), never held whole. Multipart state lives in the database and the parts' bytes in the blob
store's `multipart/` folder, so any replica takes any part and completes any upload.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import DeckError
from .authz import Caller, Principal, enter
from .ids import utcnow
from .schema import MultipartUpload, StoredObject, UploadedPart
from .staging import READ, start_writeback

if TYPE_CHECKING:
    from .artifacts import Uploads
    from .db import Store

MAX_KEY = 1023  # bytes of UTF-8, as OSS and OBS allow
MAX_PARTS = 10_000
MIN_PART = 100 << 10  # every part but the last, as OSS and OBS require
MAX_PART = 5 << 30  # as OSS and OBS allow
IN_PLACE_LIMIT = 1 << 43  # offsets every local filesystem takes (ext4 files end at 16 TiB)


class ObjectError(DeckError):
    """An object-store refusal: `code` is the object store's own (NoSuchKey, InvalidPart ...)."""

    def __init__(self, code: str, status: int, message: str, hint: str = "") -> None:
        super().__init__(message, code=code, status=status, hint=hint)


_crc: Any = None


def _model() -> Any:
    global _crc
    if _crc is None:
        import anycrc  # word-wise tables in C: ~25x crcmod's speed; loaded with the first object

        _crc = anycrc.Model("CRC64-XZ")  # = CRC-64/ECMA-182 as OSS computes it (oss2.utils.Crc64)
    return _crc


def crc64(data: bytes | memoryview, crc: int = 0) -> int:
    return int(_model().calc(data, crc)) if crc else int(_model().calc(data))


def crc64_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC of A+B from CRC(A), CRC(B) and len(B): a multipart object's from its parts', unread."""
    return int(_model().combine(crc1, crc2, len2)) if len2 else crc1


_HASHING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="modeldeck-md5")


def _update(hasher: Any, chunks: list[bytes]) -> None:
    for chunk in chunks:
        hasher.update(chunk)


_PREFIXES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modeldeck-sha256")


class _Prefix:
    """sha256 of an in-place upload's leading parts, hashed in the background as they land, so completing
    reads only what is left instead of the whole object after the last part. Each hashed part is kept as
    its row's (number, offset, size, md5, created_at): a part uploaded again since has another row, and
    completing then hashes the object from the start (as a replica without this prefix does)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sha = hashlib.sha256()
        self.end = 0
        self.parts: list[tuple[Any, ...]] = []


def _identity(part: UploadedPart) -> tuple[Any, ...]:
    return (part.number, part.offset, part.size, part.md5, part.created_at)


class Ingest:
    """One request body copied to a local file, hashed as it is written (MD5, CRC-64, and sha256 when
    it becomes a blob whole). Fed batches of chunks from a worker thread."""

    def __init__(self, path: Path, *, whole: bool, limit: int, at: int | None = None) -> None:
        """A new file at `path`, or (`at` given) the region from offset `at` of the file `path`; at most
        `limit` bytes."""
        self.path, self.at, self.limit = path, at, limit
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if at is None else 0)
        self._fh = open(os.open(path, flags, 0o600), "wb", buffering=0)  # noqa: SIM115  (closed by close/discard)
        self.size = self._pos = 0
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256() if whole else None
        self.crc = 0

    def write(self, chunks: list[bytes]) -> None:
        """Write and hash one batch; MD5 runs on a second thread beside the rest (hashlib and the writes
        release the GIL), so two cores share the work."""
        if self.size + sum(map(len, chunks)) > self.limit:
            raise too_large(self.limit)
        md5 = _HASHING.submit(_update, self.md5, chunks)
        try:
            fd = self._fh.fileno()
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    done = os.write(fd, view) if self.at is None else os.pwrite(fd, view, self.at + self._pos)
                    view = view[done:]
                    self._pos += done
                if self.sha256 is not None:
                    self.sha256.update(chunk)
                self.crc = crc64(chunk, self.crc)
        finally:
            md5.result()
        length = sum(map(len, chunks))
        start_writeback(fd, (self.at or 0) + self.size, length)
        self.size += length

    def close(self) -> None:
        if not self._fh.closed:
            os.fsync(self._fh.fileno())
            self._fh.close()

    def discard(self) -> None:
        self._fh.close()
        if self.at is None:  # a region of a shared file is simply not recorded
            self.path.unlink(missing_ok=True)

    def check_md5(self, content_md5: str | None) -> None:
        """A Content-MD5 the client sent must match the bytes (base64 of the binary digest)."""
        if content_md5 is None:
            return
        try:
            sent = base64.b64decode(content_md5, validate=True)
        except ValueError:
            sent = b""
        if len(sent) != 16:
            raise ObjectError("InvalidDigest", 400, "The Content-MD5 you specified is not valid.",
                              "Send the base64 of the body's binary MD5 digest, or no Content-MD5.")  # fmt: skip
        if sent != self.md5.digest():
            raise ObjectError("BadDigest", 400, "The Content-MD5 you specified did not match what was received.",
                              "The body changed in transit: send it again.")  # fmt: skip


@dataclass(frozen=True)
class Head:
    key: str
    size: int
    etag: str
    crc64: str
    content_type: str
    last_modified: Any
    digest: str


def too_large(limit: int) -> ObjectError:
    return ObjectError("EntityTooLarge", 400, f"The object would be larger than the {limit} bytes allowed.",
                       "Split the checkpoint into several objects, or ask the admin to raise the limit.")  # fmt: skip


def check_key(key: str) -> str:
    if not key or len(key.encode()) > MAX_KEY or key.startswith("/") or "\x00" in key:
        raise ObjectError("InvalidObjectName", 400, "The object key is empty, too long or malformed.",
                          "Use a key of 1 to 1023 bytes that does not start with '/'.")  # fmt: skip
    return key


def _no_upload() -> ObjectError:
    return ObjectError("NoSuchUpload", 404, "The specified multipart upload does not exist.",
                       "It was completed, aborted, or belongs to another account: initiate a new one.")  # fmt: skip


class Objects:
    def __init__(self, store: Store, uploads: Uploads) -> None:
        self.store, self.uploads = store, uploads
        self.blobs = uploads.blobs
        self.parts_root = f"{self.blobs.root}/multipart"
        self._prefixes: dict[str, _Prefix] = {}

    # ---- buckets --------------------------------------------------------------------------------------

    def bucket(self, principal: Principal, name: str, permission: str) -> Caller:
        """The caller in the bucket's workspace, allowed `permission`; an unknown or foreign bucket is
        NoSuchBucket / AccessDenied as the workspace rules answer."""
        with self.store.read() as db:
            if not name.startswith("ws-"):
                raise _no_bucket(name)
            try:
                caller = enter(db, principal, name)
            except DeckError as exc:
                if exc.code == "Workspace.NotFound":
                    raise _no_bucket(name) from None
                raise ObjectError("AccessDenied", 403, exc.message, exc.hint or "") from None
        try:
            caller.require(permission)
        except DeckError as exc:
            raise ObjectError("AccessDenied", 403, exc.message, exc.hint or "") from None
        return caller

    # ---- whole objects --------------------------------------------------------------------------------

    def ingest(self, *, whole: bool) -> Ingest:
        return Ingest(self.uploads.scratch / f"object-{secrets.token_hex(12)}.part", whole=whole,
                      limit=self._limit(whole))  # fmt: skip

    def _limit(self, whole: bool) -> int:
        return self.uploads.max_size if whole else min(MAX_PART, self.uploads.max_size)

    def put(self, caller: Caller, key: str, ingest: Ingest, content_type: str, content_md5: str | None) -> Head:
        """Store a whole body as the object `key` (replacing one of that key)."""
        try:
            ingest.close()
            ingest.check_md5(content_md5)
        except BaseException:
            ingest.discard()
            raise
        assert ingest.sha256 is not None
        return self._store(caller, key, ingest.path, ingest.sha256.hexdigest(), ingest.size,
                           ingest.md5.hexdigest(), ingest.crc, content_type)  # fmt: skip

    def _store(self, caller: Caller, key: str, path: Path, digest: str, size: int, etag: str, crc: int,
               content_type: str) -> Head:  # fmt: skip
        self.uploads.keep(caller, path, digest, size)
        now = utcnow()
        with self.store.write() as db:
            row = db.get(StoredObject, (caller.workspace_id, key))
            if row is None:
                row = StoredObject(workspace_id=caller.workspace_id, key=key)
                db.add(row)
            row.digest, row.size, row.etag, row.crc64 = digest, size, etag, str(crc)
            row.content_type, row.created_at = content_type[:256], now
        return Head(key, size, etag, str(crc), content_type, now, digest)

    def head(self, caller: Caller, key: str) -> Head:
        with self.store.read() as db:
            row = db.get(StoredObject, (caller.workspace_id, key))
        if row is None:
            raise ObjectError("NoSuchKey", 404, "The specified key does not exist.",
                              "Check the bucket and key; put the object first.")  # fmt: skip
        return Head(row.key, row.size, row.etag, row.crc64, row.content_type, row.created_at, row.digest)

    def open(self, head: Head) -> IO[bytes]:
        return self.blobs.open(head.digest)

    def delete(self, caller: Caller, key: str) -> None:
        """Remove the key (the blob stays while the workspace holds it: a version may use it)."""
        with self.store.write() as db:
            db.execute(delete(StoredObject).where(StoredObject.workspace_id == caller.workspace_id,
                                                  StoredObject.key == key))  # fmt: skip

    # ---- multipart ------------------------------------------------------------------------------------

    def initiate(self, caller: Caller, key: str, content_type: str) -> str:
        upload_id = secrets.token_hex(16).upper()
        with self.store.write() as db:
            db.add(MultipartUpload(id=upload_id, workspace_id=caller.workspace_id, key=key,
                                   account_id=caller.principal.account_id, content_type=content_type[:256],
                                   created_at=utcnow()))  # fmt: skip
        return upload_id

    def upload(self, db: Session, caller: Caller, key: str, upload_id: str) -> MultipartUpload:
        row = db.get(MultipartUpload, upload_id)
        owner = (caller.workspace_id, caller.principal.account_id, key)
        if row is None or (row.workspace_id, row.account_id, row.key) != owner:
            raise _no_upload()
        return row

    def check_part_number(self, value: str | None) -> int:
        if value is None or not value.isdigit() or not 1 <= int(value) <= MAX_PARTS:
            raise ObjectError("InvalidArgument", 400, "partNumber must be an integer from 1 to 10000.",
                              "Number the parts 1, 2, 3 ... in the order of their bytes.")  # fmt: skip
        return int(value)

    def begin_part(self, caller: Caller, key: str, upload_id: str, number: int, length: int | None) -> Ingest:
        """Where part `number` goes. On a local disk, parts of the upload's part size (fixed by the first
        part to arrive, as the SDKs use one size for all but the last) are written in place into one
        file at (number - 1) x size, so completing needs no copy; any other part gets a file of its own."""
        with self.store.write() as db:
            upload = self.upload(db, caller, key, upload_id)
            if upload.part_size is None and length is not None:
                upload.part_size = length
            size = upload.part_size
            # The bytes it replaces may be overwritten in place: until this part is whole, it is missing.
            db.execute(delete(UploadedPart).where(UploadedPart.upload_id == upload_id, UploadedPart.number == number))
        if not self.blobs.local:
            return self.ingest(whole=False)  # spooled, then stored as an object of its own
        folder = Path(self.parts_root) / upload_id
        folder.mkdir(parents=True, exist_ok=True)
        if length is not None and size is not None and length <= size and number * size <= IN_PLACE_LIMIT:
            return Ingest(folder / "data", whole=False, limit=self._limit(False), at=(number - 1) * size)
        return Ingest(folder / f"{number:05d}.{secrets.token_hex(6)}.tmp", whole=False, limit=self._limit(False))

    def put_part(self, caller: Caller, key: str, upload_id: str, number: int, ingest: Ingest,
                 length: int | None, content_md5: str | None) -> UploadedPart:  # fmt: skip
        """Keep a part's bytes (fsynced) in the blob store's multipart folder and its hashes in the database."""
        try:
            ingest.close()
            if length is not None and ingest.size != length:
                raise ObjectError("IncompleteBody", 400, "The body is shorter than its Content-Length.",
                                  "Send the whole part again.")  # fmt: skip
            ingest.check_md5(content_md5)
            if ingest.at is None:
                self._place_part(ingest.path, upload_id, number)
        finally:
            if ingest.at is None:
                ingest.path.unlink(missing_ok=True)
        part = UploadedPart(upload_id=upload_id, number=number, size=ingest.size, md5=ingest.md5.hexdigest(),
                            crc64=str(ingest.crc), offset=ingest.at, created_at=utcnow())  # fmt: skip
        with self.store.write() as db:
            self.upload(db, caller, key, upload_id)  # aborted meanwhile: its folder goes with it below
            db.merge(part)
        if ingest.at is not None:
            _PREFIXES.submit(self._hash_prefix, upload_id)
        return part

    def _prefix(self, upload_id: str) -> _Prefix:
        return self._prefixes.setdefault(upload_id, _Prefix())  # setdefault is atomic under the GIL

    def _hash_prefix(self, upload_id: str) -> None:
        """Extend the upload's hashed prefix over the in-place parts now contiguous with it (all of the
        upload's part size: the last, shorter part is left to completing)."""
        state = self._prefix(upload_id)
        with state.lock:
            with self.store.read() as db:
                upload = db.get(MultipartUpload, upload_id)
                rows = {p.number: p for p in db.scalars(select(UploadedPart).where(UploadedPart.upload_id == upload_id))}
            if upload is None or not upload.part_size:
                self._prefixes.pop(upload_id, None)
                return
            step = upload.part_size
            try:
                with open(Path(self.parts_root) / upload_id / "data", "rb", buffering=0) as fh:
                    while (part := rows.get(len(state.parts) + 1)) is not None and part.size == step and part.offset == state.end:
                        fh.seek(state.end)
                        sha, left = state.sha.copy(), step  # kept only once the whole part is in it
                        while left and (data := fh.read(min(READ, left))):
                            sha.update(data)
                            left -= len(data)
                        if left:
                            return
                        state.sha = sha
                        state.parts.append(_identity(part))
                        state.end += step
            except FileNotFoundError:  # completed or aborted meanwhile
                self._prefixes.pop(upload_id, None)

    def _part_path(self, upload_id: str, number: int) -> str:
        return f"{self.parts_root}/{upload_id}/{number:05d}"

    def _place_part(self, local: Path, upload_id: str, number: int) -> None:
        target = self._part_path(upload_id, number)
        if self.blobs.local:
            os.replace(local, target)  # written in the same folder
        else:
            self.blobs.fs.put_file(str(local), target)

    def parts(self, caller: Caller, key: str, upload_id: str) -> list[UploadedPart]:
        with self.store.read() as db:
            self.upload(db, caller, key, upload_id)
            return list(db.scalars(select(UploadedPart).where(UploadedPart.upload_id == upload_id)
                                   .order_by(UploadedPart.number)))  # fmt: skip

    def complete(self, caller: Caller, key: str, upload_id: str, listed: list[tuple[int, str]]) -> Head:
        """Join the listed parts, in order, into the object (sha256 while copying; the CRC combined from
        the parts'), then drop the upload. The ETag is the MD5 of the parts' MD5s, "-N"."""
        stored = {p.number: p for p in self.parts(caller, key, upload_id)}
        with self.store.read() as db:
            content_type = self.upload(db, caller, key, upload_id).content_type
        chosen = self._check_listed(listed, stored)
        crc, size = 0, 0
        for part in chosen:
            crc = crc64_combine(crc, int(part.crc64), part.size)
            size += part.size
        if size > self.uploads.max_size:
            raise too_large(self.uploads.max_size)
        sha = hashlib.sha256()
        if self._in_place(chosen):  # the parts already lie in order in one file: hash it, cut it to size
            out = Path(self.parts_root) / upload_id / "data"
            state = self._prefixes.pop(upload_id, None) or _Prefix()
            with state.lock:  # a prefix still being hashed is finished first
                hashed = state.parts == [_identity(p) for p in chosen[: len(state.parts)]]
                start = state.end if hashed else 0
                if hashed:
                    sha = state.sha.copy()
            with open(out, "r+b", buffering=0) as fh:
                fh.truncate(size)
                self._append(fh, start, size - start, None, sha)
                os.fsync(fh.fileno())
        else:
            folder = Path(self.parts_root) / upload_id if self.blobs.local else self.uploads.scratch
            out = folder / f"object-{secrets.token_hex(12)}.part"
            with open(out, "xb", buffering=0) as dst:
                for part in chosen:
                    with self._open_part(upload_id, part) as src:
                        self._append(src, part.offset or 0, part.size, dst, sha)
                os.fsync(dst.fileno())
        joined = hashlib.md5(b"".join(bytes.fromhex(p.md5) for p in chosen)).hexdigest()
        head = self._store(caller, key, out, sha.hexdigest(), size, f"{joined}-{len(chosen)}", crc, content_type)
        self._drop_upload(upload_id)
        return head

    def _check_listed(self, listed: list[tuple[int, str]], stored: dict[int, UploadedPart]) -> list[UploadedPart]:
        if not listed:
            raise ObjectError("MalformedXML", 400, "The part list is empty.", "List every part you uploaded.")
        numbers = [n for n, _ in listed]
        if numbers != sorted(set(numbers)):
            raise ObjectError("InvalidPartOrder", 400, "The parts are not listed in ascending order, once each.",
                              "List the parts by ascending part number.")  # fmt: skip
        chosen = []
        for number, etag in listed:
            part = stored.get(number)
            if part is None or etag.strip('"').lower() != part.md5:
                raise ObjectError("InvalidPart", 400, f"Part {number} was not uploaded or its ETag differs.",
                                  "List the parts with the ETags their uploads returned (ListParts shows them).")  # fmt: skip
            chosen.append(part)
        if any(p.size < MIN_PART for p in chosen[:-1]):
            raise ObjectError("EntityTooSmall", 400, "A part other than the last is smaller than 100 KiB.",
                              "Use parts of at least 100 KiB; only the last may be smaller.")  # fmt: skip
        return chosen

    def _in_place(self, chosen: list[UploadedPart]) -> bool:
        if not chosen or any(p.offset is None for p in chosen) or [p.number for p in chosen] != list(
            range(1, len(chosen) + 1)
        ):
            return False
        step = chosen[0].size
        return all(p.size == step and p.offset == i * step for i, p in enumerate(chosen[:-1])) and (
            chosen[-1].offset == (len(chosen) - 1) * step and chosen[-1].size <= step
        )

    def _append(self, src: IO[bytes], start: int, length: int, dst: IO[bytes] | None, sha: Any) -> None:
        """Hash `length` bytes of `src` from `start`, appending them to `dst` (when given): on a local disk
        the kernel copies them (copy_file_range) while this thread only reads them for sha256."""
        src.seek(start)
        left = length
        while left and (data := src.read(min(READ, left))):
            sha.update(data)
            left -= len(data)
            if dst is not None and not self.blobs.local:
                dst.write(data)
        if left:
            raise ObjectError("InvalidPart", 400, "A part's bytes are missing from the store.",
                              "Upload that part again, then complete.")  # fmt: skip
        if dst is None or not self.blobs.local:
            return
        offset = start
        while offset < start + length:
            copied = os.copy_file_range(src.fileno(), dst.fileno(), start + length - offset, offset)
            if not copied:
                raise ObjectError("InvalidPart", 400, "A part's bytes are missing from the store.",
                                  "Upload that part again, then complete.")  # fmt: skip
            offset += copied

    def _open_part(self, upload_id: str, part: UploadedPart) -> IO[bytes]:
        if part.offset is not None:
            return open(Path(self.parts_root) / upload_id / "data", "rb")
        path = self._part_path(upload_id, part.number)
        if self.blobs.local:
            return open(path, "rb")
        return self.blobs.fs.open(path, "rb")

    def abort(self, caller: Caller, key: str, upload_id: str) -> None:
        with self.store.read() as db:
            self.upload(db, caller, key, upload_id)
        self._drop_upload(upload_id)

    def _drop_upload(self, upload_id: str) -> None:
        self._prefixes.pop(upload_id, None)
        with self.store.write() as db:
            db.execute(delete(MultipartUpload).where(MultipartUpload.id == upload_id))
        _remove(self.blobs, f"{self.parts_root}/{upload_id}")



def under(db: Session, workspace_id: str, key: str) -> Iterator[StoredObject]:
    """The object `key`, or (a key ending in '/') every object under that prefix."""
    if not key.endswith("/"):
        row = db.get(StoredObject, (workspace_id, key))
        yield from ([row] if row is not None else [])
        return
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    yield from db.scalars(select(StoredObject).where(StoredObject.workspace_id == workspace_id,
                                                     StoredObject.key.like(escaped + "%", escape="\\"))
                          .order_by(StoredObject.key))  # fmt: skip


def _no_bucket(name: str) -> ObjectError:
    return ObjectError("NoSuchBucket", 404, "The specified bucket does not exist.",
                       "A bucket is a workspace, named by its id (ws-...): list yours with `modeldeck workspaces`.")  # fmt: skip


def object_files(db: Session, workspace_id: str, uri: str) -> list[dict[str, Any]] | None:
    """An `oss://` / `obs://` uri naming this workspace's bucket, as artifact files (None: not ours).

    `oss://<bucket>/<key>` is one file named by the key's last segment; `oss://<bucket>/<prefix>/` is every
    object under the prefix, at its path below it (how alipai uploads a folder).
    """
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme not in ("oss", "obs") or bucket != workspace_id or not key:
        return None
    prefix = key if key.endswith("/") else (key.rpartition("/")[0] + "/" if "/" in key else "")
    files = [{"path": row.key[len(prefix):], "sha256": row.digest, "size": row.size}
             for row in under(db, workspace_id, key)]  # fmt: skip
    if not files:
        raise ObjectError("NoSuchKey", 404, f"No object of bucket {bucket} is at {key!r}.",
                          "Upload the checkpoint to that key first (oss2 / esdk-obs-python, or modeldeck's "
                          "providers), or register it by its artifact:// uri.")  # fmt: skip
    return files


def artifact_for(db: Session, caller: Caller, workspace_id: str, uri: str) -> Any:
    """The artifact (created if new) of an `oss://` / `obs://` uri naming this workspace's bucket; None
    for any other uri (a real cloud's bucket stays an external uri)."""
    from .artifacts import create_artifact

    files = object_files(db, workspace_id, uri)
    return None if files is None else create_artifact(db, caller, files)


def sweep(store: Store, blobs: Any, *, older_than: Any, abandoned_before: Any) -> int:
    """The garbage collector's part: multipart uploads not completed in time, and part folders no upload
    owns (a crash between the folder and its row) once older than the grace period."""
    from .blobs import modified

    root = f"{blobs.root}/multipart"
    with store.read() as db:
        rows = dict(db.execute(select(MultipartUpload.id, MultipartUpload.created_at)).all())
    gone = 0
    for upload_id, created in rows.items():
        if created < abandoned_before:
            with store.write() as db:
                db.execute(delete(MultipartUpload).where(MultipartUpload.id == upload_id))
            _remove(blobs, f"{root}/{upload_id}")
            gone += 1
    if not blobs.local:
        blobs.fs.invalidate_cache(root)
    if not blobs.fs.exists(root):
        return gone
    for info in blobs.fs.ls(root, detail=True):
        upload_id = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if upload_id in rows or modified(info) >= older_than:
            continue
        with store.read() as db:
            if db.get(MultipartUpload, upload_id) is not None:  # initiated since the listing above
                continue
        _remove(blobs, f"{root}/{upload_id}")
        gone += 1
    return gone


def _remove(blobs: Any, folder: str) -> None:
    try:
        blobs.fs.rm(folder, recursive=True)
    except FileNotFoundError:
        pass
