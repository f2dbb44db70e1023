"""Checkpoint uploads: streamed, content-addressed, verified, resumable; nothing half-made ever visible."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from conftest import Api, Deployment, wait_for
from modeldeck import transfer
from modeldeck.errors import InvalidParameter
from modeldeck.platform import Settings

MiB = 1 << 20


def make_file(path: Path, size: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with open(path, "wb") as fh:
        for _ in range(size // MiB):
            fh.write(block)
        fh.write(block[: size % MiB])
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_blobs(home: Path) -> dict[str, Path]:
    return {p.name: p for p in (home / "blobs").rglob("*") if p.is_file()}


def assert_blobs_intact(home: Path) -> None:
    for name, path in stored_blobs(home).items():
        assert sha256_of(path) == name, f"corrupt blob {name}"


def test_folder_round_trip_and_version(deployment: Deployment, tmp_path: Path):
    ckpt = tmp_path / "ckpt"
    make_file(ckpt / "model.onnx", 3 * MiB + 17, seed=1)
    make_file(ckpt / "weights" / "part-0001.bin", 5 * MiB, seed=2)
    (ckpt / "tokenizer").mkdir()
    (ckpt / "tokenizer" / "vocab.json").write_text('{"a": 1}')
    api = deployment.admin
    artifact = transfer.upload_artifact(api, ckpt)
    assert sorted(f["path"] for f in artifact["files"]) == ["model.onnx", "tokenizer/vocab.json", "weights/part-0001.bin"]
    api.ok("POST", "/api/v1/models", json={"model_name": "m"})
    # random bytes: registered as a format this platform holds but has no runtime for (not verified)
    v = api.ok("POST", "/api/v1/models/m/versions", json={"uri": artifact["uri"], "format_type": "OfflineModel"})
    assert v["uri"] == artifact["uri"]
    got = api.get(f"/api/v1/artifacts/{artifact['digest']}/files/weights/part-0001.bin")
    assert got.status_code == 200 and got.content == (ckpt / "weights" / "part-0001.bin").read_bytes()
    assert got.headers["x-checksum-sha256"] == sha256_of(ckpt / "weights" / "part-0001.bin")
    assert_blobs_intact(deployment.platform.settings.home)


def test_same_bytes_are_not_sent_twice(deployment: Deployment, tmp_path: Path):
    f = make_file(tmp_path / "a.bin", 2 * MiB)
    api = deployment.admin
    first = transfer.upload_artifact(api, f)
    sent = []
    second = transfer.upload_artifact(api, f, progress=sent.append)
    assert first["digest"] == second["digest"]
    created = api.ok("POST", "/api/v1/uploads", json={"size": 2 * MiB, "sha256": sha256_of(f)})
    assert created["complete"] and created["id"] is None


def test_digest_mismatch_stores_nothing(deployment: Deployment):
    api = deployment.admin
    data = os.urandom(100_000)
    up = api.ok("POST", "/api/v1/uploads", json={"size": len(data)})
    r = api.patch(f"/api/v1/uploads/{up['id']}", content=data, headers={"Upload-Offset": "0"})
    assert r.status_code == 204 and r.headers["upload-offset"] == str(len(data))
    wrong = hashlib.sha256(b"something else").hexdigest()
    done = api.post(f"/api/v1/uploads/{up['id']}/complete", json={"sha256": wrong})
    assert done.status_code == 400 and done.json()["code"] == "Artifact.DigestMismatch"
    assert stored_blobs(deployment.platform.settings.home) == {}
    assert api.get(f"/api/v1/uploads/{up['id']}").status_code == 404
    # and the real digest was not stored either: it cannot be claimed into an artifact
    real = hashlib.sha256(data).hexdigest()
    claim = api.post("/api/v1/artifacts", json={"files": [{"path": "x.bin", "sha256": real}]})
    assert claim.status_code == 400 and claim.json()["code"] == "Artifact.BlobMissing"


def test_completing_again_answers_as_the_first_time(deployment: Deployment):
    """A reply lost with its replica makes the balancer send `complete` again, to another replica: the blob
    is already the workspace's, so the answer is the same. A digest the workspace does not hold stays 404."""
    api = deployment.admin
    data = os.urandom(70_000)
    digest = hashlib.sha256(data).hexdigest()
    up = api.ok("POST", "/api/v1/uploads", json={"size": len(data)})
    api.patch(f"/api/v1/uploads/{up['id']}", content=data, headers={"Upload-Offset": "0"})
    first = api.ok("POST", f"/api/v1/uploads/{up['id']}/complete", json={"sha256": digest})
    again = api.ok("POST", f"/api/v1/uploads/{up['id']}/complete", json={"sha256": digest})
    assert again == first and again["sha256"] == digest and again["size"] == len(data)
    other = hashlib.sha256(b"never uploaded").hexdigest()
    missing = api.post(f"/api/v1/uploads/{up['id']}/complete", json={"sha256": other})
    assert missing.status_code == 404 and missing.json()["code"] == "Upload.NotFound"


def test_offsets_and_sizes_are_enforced(deployment: Deployment):
    api = deployment.admin
    up = api.ok("POST", "/api/v1/uploads", json={"size": 10})
    url = f"/api/v1/uploads/{up['id']}"
    assert api.patch(url, content=b"12345", headers={"Upload-Offset": "0"}).status_code == 204
    stale = api.patch(url, content=b"12345", headers={"Upload-Offset": "0"})
    assert stale.status_code == 409 and stale.json()["code"] == "Upload.OffsetMismatch"
    assert stale.headers["upload-offset"] == "5"
    assert api.head(url).headers["upload-offset"] == "5"
    early = api.post(f"{url}/complete", json={"sha256": hashlib.sha256(b"12345").hexdigest()})
    assert early.status_code == 400 and early.json()["code"] == "Upload.Incomplete"
    over = api.patch(url, content=b"6789012345", headers={"Upload-Offset": "5"})
    assert over.status_code == 413
    assert api.head(url).headers["upload-offset"] == "5"  # nothing of the oversize chunk was kept
    assert api.patch(url, content=b"67890", headers={"Upload-Offset": "5"}).status_code == 204
    done = api.ok("POST", f"{url}/complete", json={"sha256": hashlib.sha256(b"1234567890").hexdigest()})
    assert done["complete"]
    too_big = api.post("/api/v1/uploads", json={"size": 1 << 50})
    assert too_big.status_code == 413


def test_links_in_a_checkpoint_folder_are_refused(tmp_path: Path, deployment: Deployment):
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("do not upload")
    for kind in ("symlink", "hardlink", "dirlink"):
        ckpt = tmp_path / kind
        make_file(ckpt / "model.onnx", 1000)
        if kind == "symlink":
            (ckpt / "leak.txt").symlink_to(secret)
        elif kind == "hardlink":
            os.link(secret, ckpt / "leak.txt")
        else:
            (ckpt / "sub").symlink_to(tmp_path, target_is_directory=True)
        with pytest.raises(InvalidParameter) as err:
            transfer.upload_artifact(deployment.admin, ckpt)
        assert err.value.code == "InvalidParameter.Path" and err.value.hint
    assert stored_blobs(deployment.platform.settings.home) == {}


CLIENT = """
import sys, time, httpx
from modeldeck import transfer
api = httpx.Client(base_url=sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
transfer.upload_artifact(api, sys.argv[3], progress=lambda n: time.sleep(0.1))
"""


def _staged_size(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "uploads").glob("*.part"))


def test_upload_resumes_after_the_client_is_killed(deployment: Deployment, tmp_path: Path):
    big = make_file(tmp_path / "big.bin", 96 * MiB, seed=7)
    home = deployment.platform.settings.home
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, deployment.url, deployment.admin_key, str(big)])
    try:
        wait_for(lambda: _staged_size(home) >= 16 * MiB)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    held = _staged_size(home)
    assert 0 < held < big.stat().st_size
    sent: list[int] = []
    artifact = transfer.upload_artifact(deployment.admin, big, progress=sent.append)
    # The new process started where the killed one stopped: from what the server held, never from zero
    # (the server may still write a piece that was in flight at the kill after `held` was read).
    assert held <= sent[0] < big.stat().st_size
    assert artifact["files"][0]["sha256"] == sha256_of(big)
    assert_blobs_intact(home)
    assert _staged_size(home) == 0


def _serve(home: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "modeldeck", "serve", "--home", str(home), "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    assert "serving on" in line, line
    return proc, line.split("serving on ")[1].strip()


def test_kill_9_of_the_server_mid_upload_leaves_no_version_and_no_corrupt_blob(tmp_path: Path):
    home = tmp_path / "home"
    big = make_file(tmp_path / "big.bin", 64 * MiB, seed=9)
    proc, url = _serve(home)
    key = (home / "admin.key").read_text().strip()
    api = Api(url, key)
    api.ok("POST", "/api/v1/models", json={"model_name": "m"})
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            with Api(url, key) as client:
                transfer.upload_artifact(client, big, progress=lambda n: threading.Event().wait(0.1))
        except BaseException as exc:  # the server dies under it
            errors.append(exc)

    t = threading.Thread(target=upload)
    t.start()
    try:
        wait_for(lambda: _staged_size(home) >= 8 * MiB)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    t.join(60)
    assert errors and isinstance(errors[0], (httpx.TransportError, Exception))
    assert stored_blobs(home) == {}
    # restart on the same home: it serves cleanly, shows nothing half-made, and the upload resumes
    proc, url = _serve(home)
    try:
        api = Api(url, key)
        assert api.ok("GET", "/api/v1/models/m/versions")["items"] == []
        sent: list[int] = []
        artifact = transfer.upload_artifact(api, big, progress=sent.append)
        assert sent[0] > 0
        assert artifact["files"][0]["sha256"] == sha256_of(big)
        v = api.ok("POST", "/api/v1/models/m/versions", json={"uri": artifact["uri"]})
        assert v["version_name"] == "0.1.0"
        assert_blobs_intact(home)
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()


def test_blobs_on_an_fsspec_url(tmp_path: Path):
    """Blobs can live under any fsspec URL; here fsspec's in-memory filesystem stands in for a bucket."""
    from conftest import deploy

    dep = deploy(Settings(home=tmp_path / "home", blobs_url="memory://modeldeck-test-blobs"))
    try:
        f = make_file(tmp_path / "w.bin", 3 * MiB, seed=3)
        artifact = transfer.upload_artifact(dep.admin, f)
        got = dep.admin.get(f"/api/v1/artifacts/{artifact['digest']}/files/w.bin")
        assert got.content == f.read_bytes()
        assert not (tmp_path / "home" / "blobs").exists() or stored_blobs(tmp_path / "home") == {}
    finally:
        dep.close()
