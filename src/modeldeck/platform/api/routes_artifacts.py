"""Resumable uploads and artifacts."""

from __future__ import annotations

import asyncio

from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from ...errors import InvalidParameter
from .. import artifacts, imports
from ..artifacts import check_digest
from ..staging import OffsetMismatch
from ..safety import safe_relpath
from . import serialize
from .bodies import ArtifactCreate, ImportCreate, UploadComplete, UploadCreate
from .routing import Router
from .deps import CallerDep, PlatformDep

router = Router(prefix="/api/v1", tags=["artifacts"], strict_query=True)
FLUSH_AT = 8 << 20  # hand 8 MiB at a time to a worker thread, which hashes and writes while we receive


def _upload_out(upload_id: str | None, size: int, offset: int, digest: str | None = None) -> dict[str, Any]:
    return {"id": upload_id, "size": size, "offset": offset, "complete": digest is not None, "sha256": digest}


@router.post("/uploads", status_code=201)
def create_upload(platform: PlatformDep, caller: CallerDep, body: UploadCreate, response: Response) -> dict[str, Any]:
    """Start a resumable upload, or find the one under `resume_key` and its offset.

    With the `sha256` of a blob this workspace already holds, nothing needs sending.
    """
    upload, digest = platform.uploads.create(caller, body.size, body.sha256, body.resume_key)
    if upload is None:
        response.status_code = 200
        return _upload_out(None, body.size, body.size, digest)
    _, offset = platform.uploads.get(caller, upload.id)
    if offset:
        response.status_code = 200  # an upload under this resume_key was already under way
    return _upload_out(upload.id, upload.size, offset)


@router.head("/uploads/{upload_id}")
def upload_offset(platform: PlatformDep, caller: CallerDep, upload_id: str) -> Response:
    upload, offset = platform.uploads.get(caller, upload_id)
    return Response(headers={"Upload-Offset": str(offset), "Upload-Length": str(upload.size)})


@router.get("/uploads/{upload_id}")
def get_upload(platform: PlatformDep, caller: CallerDep, upload_id: str) -> dict[str, Any]:
    upload, offset = platform.uploads.get(caller, upload_id)
    return _upload_out(upload.id, upload.size, offset)


@router.patch("/uploads/{upload_id}")
async def append(
    request: Request,
    platform: PlatformDep,
    caller: CallerDep,
    upload_id: str,
    upload_offset: Annotated[int, Header(alias="Upload-Offset")],
) -> Response:
    """Append the request body at Upload-Offset. Bytes that arrive before a disconnect are kept."""
    try:
        writer = await run_in_threadpool(platform.uploads.open_writer, caller, upload_id, upload_offset)
    except OffsetMismatch as exc:
        exc.headers = {"Upload-Offset": str(exc.offset)}  # type: ignore[attr-defined]
        raise
    buffer: list[bytes] = []
    pending = 0
    writing: asyncio.Future[None] | None = None  # one batch in the worker while the next one arrives
    try:
        try:
            async for chunk in request.stream():
                buffer.append(chunk)
                pending += len(chunk)
                if pending >= FLUSH_AT:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(run_in_threadpool(writer.write, buffer))
                    buffer, pending = [], 0
        except ClientDisconnect:
            pass
        if writing is not None:
            await writing
        if buffer:
            await run_in_threadpool(writer.write, buffer)
    finally:
        if writing is not None:  # never close the file under a write in progress
            await asyncio.gather(writing, return_exceptions=True)
        await run_in_threadpool(writer.close)
        platform.metrics.upload_bytes += writer.offset - upload_offset
    return Response(status_code=204, headers={"Upload-Offset": str(writer.offset)})


@router.post("/uploads/{upload_id}/complete")
def complete_upload(platform: PlatformDep, caller: CallerDep, upload_id: str, body: UploadComplete) -> dict[str, Any]:
    """Verify the digest and store the blob; a mismatch discards the upload and stores nothing."""
    size = platform.uploads.complete(caller, upload_id, body.sha256)
    return _upload_out(upload_id, size, size, body.sha256)


@router.post("/imports")
def import_file(platform: PlatformDep, caller: CallerDep, body: ImportCreate) -> dict[str, Any]:
    """Copy a file of the server's machine into the workspace's blobs, hashing as it writes (embedded only).

    For a client on the same machine as its embedded server: one local copy instead of an HTTP stream.
    """
    described = imports.Described(body.path, body.size, body.device, body.inode, body.mtime_ns)
    settings = platform.settings
    digest = imports.import_file(platform.uploads, caller, settings.home, settings.local_imports, described, body.sha256)
    return {"sha256": digest, "size": body.size}


@router.delete("/uploads/{upload_id}", status_code=204)
def abort_upload(platform: PlatformDep, caller: CallerDep, upload_id: str) -> Response:
    platform.uploads.abort(caller, upload_id)
    return Response(status_code=204)


@router.post("/artifacts", status_code=201)
def create_artifact(platform: PlatformDep, caller: CallerDep, body: ArtifactCreate) -> dict[str, Any]:
    """Bind uploaded blobs to paths; register a version with the returned artifact:// uri."""
    with platform.store.write() as db:
        files = [f.model_dump(exclude_none=True) for f in body.files]
        return serialize.artifact(artifacts.create_artifact(db, caller, files))


@router.get("/artifacts/{digest}")
def get_artifact(platform: PlatformDep, caller: CallerDep, digest: str) -> dict[str, Any]:
    with platform.store.read() as db:
        return serialize.artifact(artifacts.get_artifact(db, caller, digest))


@router.get("/artifacts/{digest}/files/{path:path}")
def download(platform: PlatformDep, caller: CallerDep, digest: str, path: str) -> StreamingResponse:
    with platform.store.read() as db:
        artifact = artifacts.get_artifact(db, caller, digest)
    path = safe_relpath(path)
    entry = next((f for f in artifact.files if f["path"] == path), None)
    if entry is None:
        raise InvalidParameter(
            "The artifact has no file at that path.", code="Artifact.FileNotFound", hint="GET the artifact for its files."
        )
    fh = platform.blobs.open(check_digest(entry["sha256"]))

    def chunks():  # type: ignore[no-untyped-def]
        with fh:
            while data := fh.read(1 << 20):
                yield data

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(entry["size"]), "X-Checksum-Sha256": entry["sha256"]},
    )
