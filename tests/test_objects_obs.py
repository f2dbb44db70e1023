"""The OBS facade, driven by the official `esdk-obs-python` (3.26, unmodified): `ObsClient(access_key_id,
secret_access_key, server="http://127.0.0.1:PORT")`, which on an IP endpoint is path style and signs S3's
V2 (`AWS id:sig`), verified by the platform. The same buckets (workspaces) as the OSS facade."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Deployment
from obs import CompleteMultipartUploadRequest, CompletePart, ObsClient
from test_objects_oss import PART, pair, server, workspace  # noqa: F401  (the same server, key and bucket fixtures)


@pytest.fixture(scope="module")
def bucket(workspace: str) -> str:
    return workspace  # a bucket is a workspace, named by its id


def client_of(server: Deployment, key_id: str, secret: str) -> ObsClient:
    return ObsClient(access_key_id=key_id, secret_access_key=secret, server=server.url)


@pytest.fixture(scope="module")
def obs(server: Deployment, pair: dict[str, str]) -> Iterator[ObsClient]:
    client = client_of(server, pair["id"], pair["secret"])
    yield client
    client.close()


def read(obs: ObsClient, bucket: str, key: str) -> bytes:
    got = obs.getObject(bucket, key, loadStreamInMemory=True)
    assert got.status == 200, (got.errorCode, got.errorMessage)
    return got.body.buffer


def test_put_object_and_read_it_back(obs: ObsClient, bucket: str):
    data = os.urandom(200_000)
    put = obs.putContent(bucket, "dir/a b~.bin", data)
    assert put.status == 200 and put.body.etag.strip('"') == hashlib.md5(data).hexdigest() and put.requestId
    assert read(obs, bucket, "dir/a b~.bin") == data
    head = obs.getObjectMetadata(bucket, "dir/a b~.bin")
    assert head.status == 200 and int(head.body.contentLength) == len(data)
    assert obs.getObjectMetadata(bucket, "missing").status == 404


def test_multipart_initiate_parts_complete(obs: ObsClient, bucket: str):
    data = os.urandom(2 * PART + 5)
    key = "multi/weights.bin"
    upload_id = obs.initiateMultipartUpload(bucket, key).body.uploadId
    parts = []
    for number, start in enumerate(range(0, len(data), PART), 1):
        result = obs.uploadPart(bucket, key, number, upload_id, object=data[start : start + PART])
        assert result.status == 200
        parts.append(CompletePart(partNum=number, etag=result.body.etag))
    done = obs.completeMultipartUpload(bucket, key, upload_id, CompleteMultipartUploadRequest(parts=parts))
    assert done.status == 200 and done.body.etag.strip('"').endswith("-3")
    assert read(obs, bucket, key) == data
    aborted = obs.initiateMultipartUpload(bucket, "multi/aborted.bin").body.uploadId
    assert obs.abortMultipartUpload(bucket, "multi/aborted.bin", aborted).status == 204
    gone = obs.uploadPart(bucket, "multi/aborted.bin", 1, aborted, object=b"x")
    assert gone.status == 404 and gone.errorCode == "NoSuchUpload"


def test_upload_file_interrupted_then_resumed_from_its_checkpoint(
    server: Deployment, pair: dict[str, str], obs: ObsClient, bucket: str, tmp_path: Path
):
    pair_id, secret, url = pair["id"], pair["secret"], server.url
    source = tmp_path / "checkpoint.bin"
    data = os.urandom(6 * PART + 3)
    source.write_bytes(data)
    record = tmp_path / "checkpoint.record"

    script = f"""
import os, signal
from obs import ObsClient
def stop(transferred, total, seconds):
    if transferred >= {2 * PART}:
        os.kill(os.getpid(), signal.SIGKILL)  # the kernel dies mid-upload
client = ObsClient(access_key_id={pair_id!r}, secret_access_key={secret!r}, server={url!r})
client.uploadFile({bucket!r}, "resumed/ckpt.bin", {str(source)!r}, partSize={PART}, taskNum=1, enableCheckpoint=True,
                  checkpointFile={str(record)!r}, progressCallback=stop)
"""
    killed = subprocess.run([sys.executable, "-c", script], check=False, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    kept = json.loads(record.read_text())  # the SDK's record: the parts it saw finish, and the upload
    upload_id, recorded = kept["uploadId"], {p["partNumber"] for p in kept["uploadParts"] if p["isCompleted"]}
    stored = {p.partNumber for p in obs.listParts(bucket, "resumed/ckpt.bin", upload_id).body.parts}
    assert recorded and recorded <= stored and len(stored) < 7, "killed part-way, with what it recorded stored"
    assert record.exists(), "the SDK kept its checkpoint record"
    assert obs.getObjectMetadata(bucket, "resumed/ckpt.bin").status == 404

    seen: list[int] = []
    done = obs.uploadFile(bucket, "resumed/ckpt.bin", str(source), partSize=PART, taskNum=1, enableCheckpoint=True,
                          checkpointFile=str(record), progressCallback=lambda t, total, s: seen.append(t))  # fmt: skip
    assert done.status == 200, (done.errorCode, done.errorMessage)
    assert not record.exists() and seen[0] == len(recorded) * PART, "resumed with the parts already sent counted as done"
    assert obs.listParts(bucket, "resumed/ckpt.bin", upload_id).errorCode == "NoSuchUpload", "completed that upload"
    assert read(obs, bucket, "resumed/ckpt.bin") == data


def test_a_wrong_secret_or_key_is_refused(server: Deployment, pair: dict[str, str], bucket: str):
    wrong = client_of(server, pair["id"], "not-the-secret")
    refused = wrong.putContent(bucket, "x", b"x")
    assert refused.status == 403 and refused.errorCode == "SignatureDoesNotMatch"
    unknown = client_of(server, "AKunknown", "whatever").putContent(bucket, "x", b"x")
    assert unknown.status == 403 and unknown.errorCode == "InvalidAccessKeyId"
    assert client_of(server, pair["id"], pair["secret"]).putContent("ws-000000000000", "x", b"x").errorCode == "NoSuchBucket"


def test_the_provider_uploads_resumes_after_a_kill_and_reports_progress(
    server: Deployment, pair: dict[str, str], obs: ObsClient, bucket: str, tmp_path: Path
):
    from modeldeck._http import Credentials
    from modeldeck.providers.huawei import obs as provider

    source = tmp_path / "weights.bin"
    data = os.urandom(5 * PART + 1)
    source.write_bytes(data)
    script = f"""
import os, signal
from modeldeck._http import Credentials
from modeldeck.providers.huawei import obs
def stop(sent):
    if sent >= {2 * PART}:
        os.kill(os.getpid(), signal.SIGKILL)
obs.upload({str(source)!r}, endpoint={server.url!r}, bucket={bucket!r}, key="ckpt/w.bin", part_size={PART},
           credentials=Credentials(access_key_id={pair["id"]!r}, access_key_secret={pair["secret"]!r}), progress=stop)
"""
    assert subprocess.run([sys.executable, "-c", script], check=False, timeout=120).returncode == -signal.SIGKILL
    seen: list[int] = []
    credentials = Credentials(access_key_id=pair["id"], access_key_secret=pair["secret"])
    uri = provider.upload(source, endpoint=server.url, bucket=bucket, key="ckpt/w.bin", credentials=credentials,
                          progress=seen.append, part_size=PART)  # fmt: skip
    assert uri == f"obs://{bucket}/ckpt/w.bin" and seen[0] >= PART and seen[-1] == len(data)
    assert read(obs, bucket, "ckpt/w.bin") == data
    from modeldeck.errors import DeckError

    with pytest.raises(DeckError) as refused:
        provider.upload(source, endpoint=server.url, bucket=bucket, key="ckpt/x.bin", part_size=PART,
                        credentials=Credentials(access_key_id=pair["id"], access_key_secret="wrong"))  # fmt: skip
    assert refused.value.code == "OBS.UploadFailed" and "wrong" not in str(refused.value)
