"""Blobs and staged uploads in an S3-compatible object store (moto's server, a real process on loopback),
reached through fsspec and s3fs by `modeldeck serve` processes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import modeldeck as md
from conftest import Api
from modeldeck import examples
from services import S3, Replica, s3_server

pytestmark = pytest.mark.slow
pytest.importorskip("s3fs", reason="the [s3] extra (s3fs) is not installed")
pytest.importorskip("moto", reason="the test extra's moto is not installed")

API = "/api/v1"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with s3_server() as server:
        yield server


def bucket_files(s3: S3, url: str) -> dict[str, bytes]:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint, key=s3.env["AWS_ACCESS_KEY_ID"],
                           secret=s3.env["AWS_SECRET_ACCESS_KEY"], skip_instance_cache=True)  # fmt: skip
    root = url.removeprefix("s3://")
    return {path[len(root) + 1 :]: fs.cat_file(path) for path in fs.find(root)}


def test_uploads_and_blobs_live_in_the_bucket(s3: S3, tmp_path: Path):
    """Half an upload is staged in the bucket, not on the server's disk: a server with its local staging
    wiped continues it; the blob lands in the bucket and comes back by download and by predict."""
    blobs = s3.bucket() + "/deck"
    home = tmp_path / "home"
    server = Replica(home, "--blobs", blobs, env=s3.env)
    try:
        api = Api(server.url, server.key)
        data = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(40_000))
        sha = hashlib.sha256(data).hexdigest()
        up = api.ok("POST", f"{API}/uploads", json={"size": len(data), "resume_key": "weights"})
        api.ok("PATCH", f"{API}/uploads/{up['id']}", content=data[:300_000], headers={"Upload-Offset": "0"})
        staged = bucket_files(s3, blobs)
        assert staged == {f"staging/{up['id']}/{0:016d}": data[:300_000]}
        server.stop()
        shutil.rmtree(home / "uploads")  # nothing of the upload is on this machine
        server.start()
        api = Api(server.url, server.key)
        again = api.ok("POST", f"{API}/uploads", json={"size": len(data), "resume_key": "weights"})
        assert (again["id"], again["offset"]) == (up["id"], 300_000)
        api.ok("PATCH", f"{API}/uploads/{up['id']}", content=data[300_000:], headers={"Upload-Offset": "300000"})
        assert api.ok("POST", f"{API}/uploads/{up['id']}/complete", json={"sha256": sha})["sha256"] == sha
        assert bucket_files(s3, blobs) == {f"sha256/{sha[:2]}/{sha}": data}  # the staged objects are gone
        artifact = api.ok("POST", f"{API}/artifacts", json={"files": [{"path": "w.bin", "sha256": sha}]})
        assert api.get(f"{API}/artifacts/{artifact['digest']}/files/w.bin").content == data
        with md.connect(url=server.url, api_key=server.key) as deck:
            deck.register("linear", examples.onnx_linear(tmp_path / "linear.onnx"), format="ONNX", progress=False)
            X, _ = examples.tabular_data(n=3, seed=1)
            assert deck.predict("linear", X).shapes["probabilities"] == [3, 3]
    finally:
        server.stop()


def test_gc_removes_orphans_from_the_bucket(s3: S3, tmp_path: Path):
    import s3fs

    blobs = s3.bucket() + "/deck"
    home = tmp_path / "home"
    server = Replica(home, "--blobs", blobs, env=s3.env)
    try:
        api = Api(server.url, server.key)
        held = hashlib.sha256(b"held").hexdigest()
        up = api.ok("POST", f"{API}/uploads", json={"size": 4})
        api.ok("PATCH", f"{API}/uploads/{up['id']}", content=b"held", headers={"Upload-Offset": "0"})
        api.ok("POST", f"{API}/uploads/{up['id']}/complete", json={"sha256": held})
    finally:
        server.stop()
    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint, key=s3.env["AWS_ACCESS_KEY_ID"],
                           secret=s3.env["AWS_SECRET_ACCESS_KEY"], skip_instance_cache=True)  # fmt: skip
    root = blobs.removeprefix("s3://")
    orphan = hashlib.sha256(b"orphan").hexdigest()
    fs.pipe_file(f"{root}/sha256/{orphan[:2]}/{orphan}", b"orphan")  # placed, never recorded
    fs.pipe_file(f"{root}/staging/upl-000000000000000000000000/{0:016d}", b"half")  # its upload row is gone
    done = subprocess.run(
        [sys.executable, "-m", "modeldeck", "gc", "--home", str(home), "--blobs", blobs, "--grace", "0"],
        capture_output=True, text=True, check=True, env={**os.environ, **s3.env},
    )  # fmt: skip
    assert done.stdout.startswith("removed 1 orphan blobs, 0 abandoned uploads, 1 staged files"), done.stdout
    assert set(bucket_files(s3, blobs)) == {f"sha256/{held[:2]}/{held}"}
