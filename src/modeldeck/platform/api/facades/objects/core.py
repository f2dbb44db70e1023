"""The object-store core both dialects share: S3-like operations on `platform.objects`, as raw ASGI.

The SDKs drop any path from their endpoint (`oss2.api._normalize_endpoint` keeps scheme, host and
port; ObsClient parses only the netloc), so these requests arrive at the server's root, path-style
`/<bucket>/<key>`. They are told apart by their Authorization scheme (`OSS`, `AWS`, `OBS`), which no
other protocol of the platform uses; every object request is signed, so none can land elsewhere
unnoticed (an unsigned one reaches the native API and its 404/401). Bodies stream to disk in 8 MiB
batches handed to a worker thread (hashed while copied); answers and errors are the stores' XML.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from .....errors import DeckError
from ....authn import Backend, Presented
from ....authz import Caller, Principal
from ....context import Services
from ....objects import Head, Ingest, ObjectError, check_key, too_large
from .signing import bucket_and_key, query_items

log = logging.getLogger("modeldeck.platform")
FLUSH_AT = 8 << 20
MAX_XML = 2 << 20  # a complete request lists at most 10000 parts
_SIGNATURE_CODES = {  # authn's refusals, as the object stores name them
    "AccessKey.NotFound": ("InvalidAccessKeyId", 403),
    "SignatureDoesNotMatch": ("SignatureDoesNotMatch", 403),
    "Signature.Expired": ("RequestTimeTooSkewed", 403),
    "AccessKey.Revoked": ("AccessDenied", 403),
}


@dataclass(frozen=True)
class Dialect:
    """What differs between the OSS and OBS wire: header prefix, signature backends, CRC, ETag case."""

    name: str
    header_prefix: str
    backends: tuple[Backend, ...]
    crc: bool  # answer x-oss-hash-crc64ecma (oss2 compares it with its own)
    upper_etag: bool

    def etag(self, value: str) -> str:
        return '"' + (value.upper() if self.upper_etag else value) + '"'


class Gone(Exception):
    """The client went away mid-body: nothing to answer."""


class ObjectStores:
    """Requests signed with an object-store scheme go to their dialect; everything else to `app`."""

    def __init__(self, app: ASGIApp, platform: Services, dialects: tuple[Dialect, ...]) -> None:
        self.app, self.platform = app, platform
        self.schemes = {b.scheme.encode(): (d, b) for d in dialects for b in d.backends}
        self.unsupported = {b"oss4-hmac-sha256": dialects[0], b"aws4-hmac-sha256": dialects[-1]}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            scheme = auth.split(b" ", 1)[0].lower()
            if scheme in self.schemes:
                dialect, backend = self.schemes[scheme]
                return await Exchange(self.platform, dialect, scope, receive, send).run(backend)
            if scheme in self.unsupported:
                exchange = Exchange(self.platform, self.unsupported[scheme], scope, receive, send)
                return await exchange.fail(ObjectError(
                    "InvalidArgument", 400, "This endpoint verifies V1/V2 signatures only.",
                    "Use oss2.Auth (OSS V1), or ObsClient's default signature on an IP endpoint (V2)."))  # fmt: skip
        await self.app(scope, receive, send)


class Exchange:
    """One object-store request and its answer."""

    def __init__(self, platform: Services, dialect: Dialect, scope: Scope, receive: Receive, send: Send) -> None:
        self.platform, self.dialect, self.scope, self.receive, self.send = platform, dialect, scope, receive, send
        self.objects = platform.objects
        self.request_id = scope.get("state", {}).get("request_id", "")
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

    async def run(self, backend: Backend) -> None:
        try:
            presented = Presented.of(self.scope)
            principal = await to_thread.run_sync(self._principal, backend, presented)
            bucket, key = bucket_and_key(presented.path)
            query = dict(query_items(presented.query))
            await self._route(principal, bucket, key, query)
        except Gone:
            return
        except DeckError as exc:
            await self.fail(exc)
        except Exception:
            log.exception("object request failed (request %s)", self.request_id)
            await self.fail(ObjectError("InternalError", 500, "We encountered an internal error.", "Try again."))

    def _principal(self, backend: Backend, presented: Presented) -> Principal:
        with self.platform.store.read() as db:
            return backend.principal(self.platform, db, presented)

    def _caller(self, principal: Principal, bucket: str, permission: str) -> Awaitable[Caller]:
        return to_thread.run_sync(self.objects.bucket, principal, bucket, permission)

    async def _route(self, principal: Principal, bucket: str, key: str, query: dict[str, str | None]) -> None:
        method = self.scope["method"]
        if not key:
            await self._caller(principal, bucket, "list")
            if method == "HEAD":
                return await self.answer(200)
            raise _not_allowed()
        check_key(key)
        if method == "PUT":
            caller = await self._caller(principal, bucket, "register")
            if any(h.endswith("-copy-source") for h in self.headers):
                raise _not_allowed()
            if "uploadId" in query:
                return await self._upload_part(caller, key, query)
            return await self._put(caller, key)
        if method == "POST":
            caller = await self._caller(principal, bucket, "register")
            if "uploads" in query:
                return await self._initiate(caller, bucket, key, query)
            if "uploadId" in query:
                return await self._complete(caller, bucket, key, query)
            raise _not_allowed()
        if method == "DELETE":
            caller = await self._caller(principal, bucket, "register")
            if "uploadId" in query:
                await to_thread.run_sync(self.objects.abort, caller, key, query["uploadId"] or "")
            else:
                await to_thread.run_sync(self.objects.delete, caller, key)
            return await self.answer(204)
        if method in ("GET", "HEAD"):
            caller = await self._caller(principal, bucket, "list")
            if "uploadId" in query and method == "GET":
                return await self._list_parts(caller, bucket, key, query)
            head = await to_thread.run_sync(self.objects.head, caller, key)
            return await self._object(head, body=method == "GET")
        raise _not_allowed()

    # ---- operations -----------------------------------------------------------------------------------

    async def _put(self, caller: Caller, key: str) -> None:
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.platform.uploads.max_size:
            raise too_large(self.platform.uploads.max_size)  # before a byte is read
        ingest = await to_thread.run_sync(lambda: self.objects.ingest(whole=True))
        await self._stream_into(ingest)
        head: Head = await to_thread.run_sync(self.objects.put, caller, key, ingest,
                                              self.headers.get("content-type", ""), self.headers.get("content-md5"))  # fmt: skip
        await self.answer(200, self._hashes(head.etag, head.crc64))

    async def _upload_part(self, caller: Caller, key: str, query: dict[str, str | None]) -> None:
        number = self.objects.check_part_number(query.get("partNumber"))
        upload_id = query["uploadId"] or ""
        declared = self.headers.get("content-length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        ingest = await to_thread.run_sync(self.objects.begin_part, caller, key, upload_id, number, length)
        await self._stream_into(ingest)
        part = await to_thread.run_sync(self.objects.put_part, caller, key, upload_id, number, ingest, length,
                                        self.headers.get("content-md5"))  # fmt: skip
        await self.answer(200, self._hashes(part.md5, part.crc64))

    async def _initiate(self, caller: Caller, bucket: str, key: str, query: dict[str, str | None]) -> None:
        upload_id = await to_thread.run_sync(self.objects.initiate, caller, key, self.headers.get("content-type", ""))
        await self.xml("InitiateMultipartUploadResult", [("Bucket", bucket), self._key(key, query),
                                                         ("UploadId", upload_id)])  # fmt: skip

    async def _complete(self, caller: Caller, bucket: str, key: str, query: dict[str, str | None]) -> None:
        listed = _listed_parts(await self._small_body())
        head = await to_thread.run_sync(self.objects.complete, caller, key, query["uploadId"] or "", listed)
        location = f"/{bucket}/{quote(key)}"
        await self.xml("CompleteMultipartUploadResult",
                       [("Location", location), ("Bucket", bucket), self._key(key, query),
                        ("ETag", self.dialect.etag(head.etag))], self._hashes(head.etag, head.crc64))  # fmt: skip

    async def _list_parts(self, caller: Caller, bucket: str, key: str, query: dict[str, str | None]) -> None:
        marker = _number(query.get("part-number-marker"), 0, "part-number-marker")
        most = _number(query.get("max-parts"), 1000, "max-parts")
        if not 1 <= most <= 1000:
            raise ObjectError("InvalidArgument", 400, "max-parts must be from 1 to 1000.", "Ask for at most 1000.")
        parts = await to_thread.run_sync(self.objects.parts, caller, key, query["uploadId"] or "")
        after = [p for p in parts if p.number > marker]
        page, truncated = after[:most], len(after) > most
        fields: list[tuple[str, Any]] = [
            ("Bucket", bucket), self._key(key, query), ("UploadId", query["uploadId"]),
            ("PartNumberMarker", marker), ("NextPartNumberMarker", page[-1].number if page else marker),
            ("MaxParts", most), ("IsTruncated", "true" if truncated else "false"),
        ]  # fmt: skip
        for p in page:
            fields.append(("Part", [("PartNumber", p.number), ("LastModified", _iso(p.created_at)),
                                    ("ETag", self.dialect.etag(p.md5)), ("HashCrc64ecma", p.crc64),
                                    ("Size", p.size)]))  # fmt: skip
        await self.xml("ListPartsResult", fields)

    async def _object(self, head: Head, *, body: bool) -> None:
        headers = self._hashes(head.etag, head.crc64) + [
            ("content-length", str(head.size)), ("last-modified", format_datetime(head.last_modified, usegmt=True)),
            ("content-type", head.content_type or "application/octet-stream"),
        ]  # fmt: skip
        if not body:
            return await self.answer(200, headers, length=False)
        fh = await to_thread.run_sync(self.objects.open, head)
        await self.send({"type": "http.response.start", "status": 200, "headers": self._encoded(headers)})
        try:
            while data := await to_thread.run_sync(fh.read, 1 << 20):
                await self.send({"type": "http.response.body", "body": data, "more_body": True})
        finally:
            await to_thread.run_sync(fh.close)
        await self.send({"type": "http.response.body", "body": b""})

    # ---- bodies ---------------------------------------------------------------------------------------

    async def _stream_into(self, ingest: Ingest) -> None:
        """The request body into `ingest`: one 8 MiB batch written and hashed in a worker thread while the
        event loop receives the next. A client gone mid-body leaves nothing behind."""
        buffer: list[bytes] = []
        pending = 0
        writing: asyncio.Future[None] | None = None
        try:
            more = True
            while more:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    raise Gone
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if chunk:
                    buffer.append(chunk)
                    pending += len(chunk)
                if pending >= FLUSH_AT:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(to_thread.run_sync(ingest.write, buffer))
                    buffer, pending = [], 0
            if writing is not None:
                await writing
                writing = None
            if buffer:
                await to_thread.run_sync(ingest.write, buffer)
        except BaseException:
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            await to_thread.run_sync(ingest.discard)
            raise

    async def _small_body(self) -> bytes:
        body = bytearray()
        more = True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise Gone
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_XML:
                raise ObjectError("MalformedXML", 400, "The XML body is too large.", "List each part once.")
        return bytes(body)

    # ---- answers --------------------------------------------------------------------------------------

    def _key(self, key: str, query: dict[str, str | None]) -> tuple[str, str]:
        return ("Key", quote(key, safe="") if query.get("encoding-type") == "url" else key)

    def _hashes(self, etag: str, crc: str) -> list[tuple[str, str]]:
        found = [("etag", self.dialect.etag(etag))]
        return found + ([("x-oss-hash-crc64ecma", crc)] if self.dialect.crc else [])

    def _encoded(self, headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
        ids = [(self.dialect.header_prefix + "request-id", self.request_id)]
        if self.dialect.name == "obs":
            ids.append(("x-obs-request-id", self.request_id))
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in ids + headers]

    async def answer(self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                     *, length: bool = True) -> None:  # fmt: skip
        headers = list(headers or [])
        if length:
            headers.append(("content-length", str(len(body))))
        await self.send({"type": "http.response.start", "status": status, "headers": self._encoded(headers)})
        await self.send({"type": "http.response.body", "body": body})

    async def xml(self, root: str, fields: list[tuple[str, Any]], headers: list[tuple[str, str]] | None = None) -> None:
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + _element(root, fields)).encode()
        await self.answer(200, [("content-type", "application/xml"), *(headers or [])], body)

    async def fail(self, exc: DeckError) -> None:
        """The object stores' error XML; a HEAD gets the status with no body, as S3 and OSS answer it."""
        code, status = exc.code, exc.status or 500
        if code in _SIGNATURE_CODES:
            code, status = _SIGNATURE_CODES[code]
        elif not isinstance(exc, ObjectError):
            code = "AccessDenied" if status == 403 else "InvalidArgument" if status < 500 else "InternalError"
        message = exc.message + (f" {exc.hint}" if exc.hint else "")
        if self.scope["method"] == "HEAD":
            return await self.answer(status, [("x-oss-ec" if self.dialect.crc else "x-error-code", code)])
        fields = [("Code", code), ("Message", message), ("RequestId", self.request_id), ("HostId", "modeldeck")]
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + _element("Error", fields)).encode()
        await self.answer(status, [("content-type", "application/xml")], body)


def _element(name: str, value: Any) -> str:
    if isinstance(value, list):
        inner = "".join(_element(k, v) for k, v in value)
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def _listed_parts(body: bytes) -> list[tuple[int, str]]:
    """(PartNumber, ETag) of a CompleteMultipartUpload body; malformed XML is the caller's mistake."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise _malformed()
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise _malformed() from None
    listed = []
    for part in root:
        if _local(part.tag) != "Part":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in part}
        number, etag = fields.get("PartNumber", ""), fields.get("ETag")
        if not number.isdigit() or etag is None:
            raise _malformed()
        listed.append((int(number), etag))
    return listed


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _malformed() -> ObjectError:
    return ObjectError("MalformedXML", 400, "The XML you provided was not well-formed.",
                       "Send <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>...</ETag></Part>...")  # fmt: skip


def _not_allowed() -> ObjectError:
    return ObjectError("MethodNotAllowed", 405, "The specified method is not allowed against this resource.",
                       "This endpoint answers put, head, get and delete of objects and multipart uploads.")  # fmt: skip


def _number(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise ObjectError("InvalidArgument", 400, f"{name} must be a whole number.", f"Send {name} as digits.")
    return int(value)


def _iso(when: Any) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
