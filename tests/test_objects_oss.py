"""The OSS facade, driven by the official `oss2` (2.19, unmodified): `oss2.Bucket(oss2.Auth(id, secret),
"http://127.0.0.1:PORT", bucket)` (path style on an IP endpoint, V1 signatures the platform verifies,
CRC-64 checked by oss2 itself on every put, part and complete). A bucket is a workspace, named by its id."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest
from conftest import Deployment, deploy

from modeldeck.examples import onnx_linear
from modeldeck.platform.settings import Settings

PART = 128 << 10  # oss2 and OSS require parts of at least 100 KiB but the last


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = deploy(Settings(home=tmp_path_factory.mktemp("oss") / "home"))
    yield dep
    dep.close()


@pytest.fixture(scope="module")
def pair(server: Deployment) -> dict[str, str]:
    return server.admin.ok("POST", "/api/v1/access-keys", json={"description": "oss2"})


@pytest.fixture(scope="module")
def workspace(server: Deployment) -> str:
    listed = server.admin.ok("GET", "/api/v1/workspaces")
    items = listed["items"] if isinstance(listed, dict) else listed
    return next(w["id"] for w in items if w["name"] == "default")


def bucket_of(server: Deployment, pair: dict[str, str], name: str, secret: str | None = None) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth(pair["id"], secret or pair["secret"]), server.url, name)


@pytest.fixture
def bucket(server: Deployment, pair: dict[str, str], workspace: str) -> oss2.Bucket:
    return bucket_of(server, pair, workspace)


def test_put_head_get_and_the_crc_oss2_checks(bucket: oss2.Bucket):
    data = os.urandom(300_000)
    put = bucket.put_object("dir/a b+ü.bin", data)  # oss2 raises InconsistentError on a wrong CRC
    assert put.status == 200 and put.etag == hashlib.md5(data).hexdigest().upper() and put.crc is not None
    assert put.request_id
    head = bucket.head_object("dir/a b+ü.bin")
    assert head.content_length == len(data) and head.etag == put.etag
    assert bucket.get_object("dir/a b+ü.bin").read() == data
    bucket.put_object("dir/a b+ü.bin", b"replaced")
    assert bucket.get_object("dir/a b+ü.bin").read() == b"replaced"
    assert bucket.delete_object("dir/a b+ü.bin").status == 204
    assert not bucket.object_exists("dir/a b+ü.bin")


def test_content_md5_is_checked_when_sent(bucket: oss2.Bucket):
    good = oss2.utils.content_md5(b"payload")
    assert bucket.put_object("md5.txt", b"payload", headers={"Content-MD5": good}).status == 200
    with pytest.raises(oss2.exceptions.ServerError) as refused:
        bucket.put_object("md5.txt", b"tampered", headers={"Content-MD5": good})
    assert refused.value.status == 400 and refused.value.code == "BadDigest"
    assert bucket.get_object("md5.txt").read() == b"payload"


def test_multipart_init_parts_list_complete(bucket: oss2.Bucket):
    data = os.urandom(2 * PART + 1000)
    key = "multi/model.bin"
    upload_id = bucket.init_multipart_upload(key).upload_id
    parts = []
    for number, start in enumerate(range(0, len(data), PART), 1):
        result = bucket.upload_part(key, upload_id, number, data[start : start + PART])
        parts.append(oss2.models.PartInfo(number, result.etag, size=len(data[start : start + PART]),
                                          part_crc=result.crc))  # fmt: skip
    listed = bucket.list_parts(key, upload_id)
    assert [(p.part_number, p.size) for p in listed.parts] == [(1, PART), (2, PART), (3, 1000)]
    done = bucket.complete_multipart_upload(key, upload_id, parts)  # oss2 checks the combined CRC
    assert done.status == 200 and done.etag.endswith("-3")
    assert bucket.get_object(key).read() == data
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts(key, upload_id)


def test_complete_refuses_parts_that_were_not_uploaded(bucket: oss2.Bucket):
    key = "multi/refused.bin"
    upload_id = bucket.init_multipart_upload(key).upload_id
    first = bucket.upload_part(key, upload_id, 1, b"x" * 10)
    with pytest.raises(oss2.exceptions.ServerError) as wrong:
        bucket.complete_multipart_upload(key, upload_id, [oss2.models.PartInfo(1, "0" * 32)])
    assert wrong.value.status == 400 and wrong.value.code == "InvalidPart"
    bucket.abort_multipart_upload(key, upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.complete_multipart_upload(key, upload_id, [oss2.models.PartInfo(1, first.etag)])


def test_resumable_upload_interrupted_then_resumed(bucket: oss2.Bucket, tmp_path: Path):
    source = tmp_path / "checkpoint.bin"
    data = os.urandom(5 * PART + 77)
    source.write_bytes(data)
    store = oss2.ResumableStore(root=str(tmp_path / "checkpoints"))

    class Interrupted(Exception):
        pass

    def stop_after_two_parts(consumed: int, total: int | None) -> None:
        if consumed >= 2 * PART:
            raise Interrupted

    with pytest.raises(Interrupted):
        oss2.resumable_upload(bucket, "resumed/ckpt.bin", str(source), store=store, multipart_threshold=PART,
                              part_size=PART, num_threads=1, progress_callback=stop_after_two_parts)  # fmt: skip
    assert list((tmp_path / "checkpoints").rglob("*")), "oss2 kept its checkpoint record"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("resumed/ckpt.bin")

    seen: list[int] = []
    oss2.resumable_upload(bucket, "resumed/ckpt.bin", str(source), store=store, multipart_threshold=PART,
                          part_size=PART, num_threads=1, progress_callback=lambda c, t: seen.append(c))  # fmt: skip
    assert seen[0] >= 2 * PART, "the resumed upload started after the parts already sent"
    assert bucket.get_object("resumed/ckpt.bin").read() == data


def test_a_wrong_secret_or_key_is_refused(server: Deployment, pair: dict[str, str], workspace: str):
    with pytest.raises(oss2.exceptions.ServerError) as bad:
        bucket_of(server, pair, workspace, secret="not-the-secret").put_object("x", b"x")
    assert bad.value.status == 403 and bad.value.code == "SignatureDoesNotMatch"
    unknown = oss2.Bucket(oss2.Auth("AKunknown", "whatever"), server.url, workspace)
    with pytest.raises(oss2.exceptions.ServerError) as missing:
        unknown.put_object("x", b"x")
    assert missing.value.status == 403 and missing.value.code == "InvalidAccessKeyId"


def test_buckets_are_the_callers_workspaces(server: Deployment, pair: dict[str, str], workspace: str):
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        bucket_of(server, pair, "ws-000000000000").put_object("x", b"x")
    other = server.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-oss"})
    viewer = server.subaccount("oss-viewer", {"team-oss": "viewer"})
    keys = server.client(viewer).ok("POST", "/api/v1/access-keys", json={})
    as_viewer = bucket_of(server, keys, other["id"])
    with pytest.raises(oss2.exceptions.AccessDenied):
        as_viewer.put_object("x", b"x")
    with pytest.raises(oss2.exceptions.AccessDenied):
        bucket_of(server, keys, workspace).get_object("x")  # not a member of the default workspace
    with pytest.raises(oss2.exceptions.NoSuchKey):
        as_viewer.get_object("nothing-here")


def test_an_object_registers_as_a_version_by_its_oss_uri(server: Deployment, bucket: oss2.Bucket, workspace: str,
                                                          tmp_path: Path):  # fmt: skip
    model = onnx_linear(tmp_path / "linear.onnx")
    bucket.put_object_from_file("models/linear/model.onnx", str(model))
    server.admin.ok("POST", "/api/v1/models", json={"model_name": "from-oss"})
    uri = f"oss://{workspace}/models/linear/model.onnx"
    version = server.admin.ok("POST", "/api/v1/models/from-oss/versions", json={"uri": uri, "format_type": "ONNX"})
    assert version["uri"] == uri and version["runnable"] is True
    out = server.admin.ok("POST", "/api/v1/models/from-oss/predict", json={"inputs": [[0.1, 0.2, 0.3, 0.4]]})
    assert out
    missing = server.admin.request("POST", "/api/v1/models/from-oss/versions", json={"uri": f"oss://{workspace}/none"})
    assert missing.status_code == 404


def test_the_provider_uploads_resumes_and_reports_progress(server: Deployment, bucket: oss2.Bucket,
                                                           pair: dict[str, str], workspace: str, tmp_path: Path):  # fmt: skip
    from modeldeck._http import Credentials
    from modeldeck.providers.alibaba import oss

    source = tmp_path / "weights.bin"
    data = os.urandom(4 * PART + 9)
    source.write_bytes(data)
    credentials = Credentials(access_key_id=pair["id"], access_key_secret=pair["secret"])
    first: list[int] = []

    def stop(sent: int) -> None:
        first.append(sent)
        if sent >= 2 * PART:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        oss.upload(source, endpoint=server.url, bucket=workspace, key="ckpt/w.bin", credentials=credentials,
                   progress=stop, part_size=PART)  # fmt: skip
    again: list[int] = []
    uri = oss.upload(source, endpoint=server.url, bucket=workspace, key="ckpt/w.bin", credentials=credentials,
                     progress=again.append, part_size=PART)  # fmt: skip
    assert uri == f"oss://{workspace}/ckpt/w.bin"
    assert again[0] >= 2 * PART and again[-1] == len(data), "resumed, and progress reached the whole file"
    assert bucket.get_object("ckpt/w.bin").read() == data
    wrong = Credentials(access_key_id=pair["id"], access_key_secret="wrong")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        oss.upload(source, endpoint=server.url, bucket=workspace, key="ckpt/x.bin", credentials=wrong)


def test_without_the_extra_the_provider_names_it(tmp_path: Path):
    import subprocess
    import sys

    script = ("import sys; sys.modules['oss2'] = None\n"
              "from modeldeck.providers.alibaba import oss\nfrom modeldeck.errors import MissingDependency\n"
              f"open({str(tmp_path / 'f')!r}, 'wb').write(b'x')\n"
              "try:\n    oss.upload(" + repr(str(tmp_path / "f")) + ", endpoint='http://127.0.0.1:9', bucket='b', key='k', credentials=None)\n"
              "except MissingDependency as e:\n    print(e.hint)\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert "modeldeck[alibaba]" in out.stdout, out.stderr


def test_parts_of_uneven_sizes_in_any_order(bucket: oss2.Bucket):
    """The first part to arrive fixes where parts of its size go; others are kept apart: any order and
    any sizes still make the object of the listed parts, in order."""
    sizes = [PART + 3000, PART, PART + 1, 700]
    chunks = [os.urandom(n) for n in sizes]
    key = "multi/uneven.bin"
    upload_id = bucket.init_multipart_upload(key).upload_id
    etags = {}
    for number in (2, 4, 1, 3, 2):  # part 2 fixes the size; part 2 sent twice (the second one counts)
        etags[number] = bucket.upload_part(key, upload_id, number, chunks[number - 1]).etag
    parts = [oss2.models.PartInfo(n, etags[n]) for n in range(1, 5)]
    bucket.complete_multipart_upload(key, upload_id, parts)
    assert bucket.get_object(key).read() == b"".join(chunks)


def test_abandoned_multipart_uploads_are_collected(server: Deployment, bucket: oss2.Bucket):
    from datetime import timedelta

    from modeldeck.platform import gc

    upload_id = bucket.init_multipart_upload("multi/abandoned.bin").upload_id
    bucket.upload_part("multi/abandoned.bin", upload_id, 1, b"x" * 1000)
    folder = Path(server.platform.blobs.root) / "multipart" / upload_id
    assert folder.is_dir()
    gc.collect(server.platform.uploads, grace=timedelta(days=1))  # within the time allowed: kept
    assert [p.part_number for p in bucket.list_parts("multi/abandoned.bin", upload_id).parts] == [1]
    gc.collect(server.platform.uploads, grace=timedelta(0), upload_ttl=timedelta(0))
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("multi/abandoned.bin", upload_id)
    assert not folder.exists()


def test_an_object_larger_than_the_platform_allows_is_refused(tmp_path: Path):
    dep = deploy(Settings(home=tmp_path / "home", max_blob_size=1000))
    try:
        pair = dep.admin.ok("POST", "/api/v1/access-keys", json={})
        listed = dep.admin.ok("GET", "/api/v1/workspaces")
        ws = next(w["id"] for w in listed["items"] if w["name"] == "default")
        small = bucket_of(dep, pair, ws)
        with pytest.raises(oss2.exceptions.ServerError) as refused:
            small.put_object("big", b"x" * 1001)
        assert refused.value.status == 400 and refused.value.code == "EntityTooLarge"
        assert small.put_object("fits", b"x" * 1000).status == 200
        upload_id = small.init_multipart_upload("big").upload_id
        with pytest.raises(oss2.exceptions.ServerError) as part:
            small.upload_part("big", upload_id, 1, b"x" * 1001)
        assert part.value.code == "EntityTooLarge"
    finally:
        dep.close()


def test_a_part_sent_again_after_it_was_hashed_changes_the_objects_digest(server: Deployment, bucket: oss2.Bucket):
    """Parts in place are hashed (sha256) as they land; one sent again with other bytes afterwards must not
    leave its first bytes' hash in the object's digest."""
    first, second, last = os.urandom(PART), os.urandom(PART), os.urandom(500)
    key = "multi/sent-again.bin"
    upload_id = bucket.init_multipart_upload(key).upload_id
    bucket.upload_part(key, upload_id, 1, first)
    bucket.upload_part(key, upload_id, 2, second)
    bucket.upload_part(key, upload_id, 3, last)
    bucket.list_parts(key, upload_id)  # gives the background hash time to take parts 1 and 2
    replaced = os.urandom(PART)
    etags = {1: bucket.upload_part(key, upload_id, 1, replaced).etag}
    etags |= {p.part_number: p.etag for p in bucket.list_parts(key, upload_id).parts if p.part_number != 1}
    bucket.complete_multipart_upload(key, upload_id, [oss2.models.PartInfo(n, etags[n]) for n in (1, 2, 3)])
    data = replaced + second + last
    assert bucket.get_object(key).read() == data
    real = hashlib.sha256(data).hexdigest()  # the blob is stored under the digest of the bytes it holds
    artifact = server.admin.ok("POST", "/api/v1/artifacts", json={"files": [{"path": "m.bin", "sha256": real}]})
    download = server.admin.request("GET", f"/api/v1/artifacts/{artifact['digest']}/files/m.bin")
    assert download.content == data
