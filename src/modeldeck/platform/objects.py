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
from collections.abc import Iterator
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
_POLY = 0xC96C5795D7870F42  # CRC-64/ECMA-182, reflected (oss2.utils.Crc64, crcmod's 0x142F0E1EBA9EA3693)


class ObjectError(DeckError):
    """An object-store refusal: `code` is the object store's own (NoSuchKey, InvalidPart ...)."""

    def __init__(self, code: str, status: int, message: str, hint: str = "") -> None:
        super().__init__(message, code=code, status=status, hint=hint)


def _crc_function() -> Any:
    import crcmod  # C extension; loaded with the first object

    return crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


_crc: Any = None


def crc64(data: bytes | memoryview, crc: int = 0) -> int:
    global _crc
    if _crc is None:
        _crc = _crc_function()
    return int(_crc(data, crc))


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc64_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC of A+B from CRC(A), CRC(B) and len(B) (zlib's crc32_combine, for 64 bits): a multipart
    object's CRC from its parts' without reading its bytes again."""
    if len2 == 0:
        return crc1
    odd = [_POLY] + [1 << n for n in range(63)]  # the operator for one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


class Ingest:
    """One request body copied to a local file, hashed as it is written (MD5, CRC-64, and sha256 when
    it becomes a blob whole). Fed batches of chunks from a worker thread."""

    def __init__(self, path: Path, *, whole: bool) -> None:
        self.path = path
        self._fh = open(path, "xb", buffering=0)
        self.size = 0
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256() if whole else None
        self.crc = 0

    def write(self, chunks: list[bytes]) -> None:
        fd = self._fh.fileno()
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
            self.md5.update(chunk)
            if self.sha256 is not None:
                self.sha256.update(chunk)
            self.crc = crc64(chunk, self.crc)
        length = sum(map(len, chunks))
        start_writeback(fd, self.size, length)
        self.size += length

    def close(self) -> None:
        if not self._fh.closed:
            os.fsync(self._fh.fileno())
            self._fh.close()

    def discard(self) -> None:
        self._fh.close()
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
        return Ingest(self.uploads.scratch / f"object-{secrets.token_hex(12)}.part", whole=whole)

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

    def begin_part(self, caller: Caller, key: str, upload_id: str) -> Ingest:
        with self.store.read() as db:
            self.upload(db, caller, key, upload_id)
        return self.ingest(whole=False)

    def put_part(self, caller: Caller, key: str, upload_id: str, number: int, ingest: Ingest,
                 content_md5: str | None) -> UploadedPart:  # fmt: skip
        """Keep a part's bytes in the blob store's multipart folder and its hashes in the database."""
        try:
            ingest.close()
            ingest.check_md5(content_md5)
            self._place_part(ingest.path, upload_id, number)
        finally:
            ingest.path.unlink(missing_ok=True)
        part = UploadedPart(upload_id=upload_id, number=number, size=ingest.size, md5=ingest.md5.hexdigest(),
                            crc64=str(ingest.crc), created_at=utcnow())  # fmt: skip
        with self.store.write() as db:
            self.upload(db, caller, key, upload_id)  # aborted meanwhile: its folder goes with it below
            db.merge(part)
        return part

    def _part_path(self, upload_id: str, number: int) -> str:
        return f"{self.parts_root}/{upload_id}/{number:05d}"

    def _place_part(self, local: Path, upload_id: str, number: int) -> None:
        target = self._part_path(upload_id, number)
        if self.blobs.local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(local, target)  # the scratch folder is beside the blobs in a local home
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
        out = self.uploads.scratch / f"object-{secrets.token_hex(12)}.part"
        sha = hashlib.sha256()
        crc, size = 0, 0
        with open(out, "xb", buffering=0) as dst:
            for part in chosen:
                with self._open_part(upload_id, part.number) as src:
                    while data := src.read(READ):
                        sha.update(data)
                        dst.write(data)
                crc = crc64_combine(crc, int(part.crc64), part.size)
                size += part.size
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

    def _open_part(self, upload_id: str, number: int) -> IO[bytes]:
        path = self._part_path(upload_id, number)
        if self.blobs.local:
            return open(path, "rb")
        return self.blobs.fs.open(path, "rb")

    def abort(self, caller: Caller, key: str, upload_id: str) -> None:
        with self.store.read() as db:
            self.upload(db, caller, key, upload_id)
        self._drop_upload(upload_id)

    def _drop_upload(self, upload_id: str) -> None:
        with self.store.write() as db:
            db.execute(delete(MultipartUpload).where(MultipartUpload.id == upload_id))
        folder = f"{self.parts_root}/{upload_id}"
        try:
            self.blobs.fs.rm(folder, recursive=True)
        except FileNotFoundError:
            pass



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
