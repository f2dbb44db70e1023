"""Uploads under interruption and between accounts, and the garbage collector: over real HTTP, with real
`modeldeck serve` processes killed with SIGKILL, then `modeldeck gc` and a check of rows against blobs."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from conftest import Api, Deployment, deploy, wait_for
from modeldeck import transfer
from modeldeck.platform import Settings
from test_uploads import make_file, sha256_of, stored_blobs

MiB = 1 << 20
API = "/api/v1"


def serve(home: Path, *options: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "modeldeck", "serve", "--home", str(home), "--port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert "serving on" in line, line
    return proc, line.split("serving on ")[1].strip()


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]


def rows(home: Path, sql: str) -> set:
    with sqlite3.connect(home / "modeldeck.db") as db:
        return {r[0] for r in db.execute(sql)}


def gc_cli(home: Path, *options: str) -> str:
    done = subprocess.run([sys.executable, "-m", "modeldeck", "gc", "--home", str(home), *options],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def staged_files(home: Path) -> set[str]:
    return {p.name for p in (home / "uploads").glob("*.part")}


# ---- an upload belongs to its account -----------------------------------------------------------------


@pytest.fixture
def developers(deployment: Deployment) -> tuple[Api, Api]:
    deployment.admin.ok("POST", f"{API}/workspaces", json={"name": "team"})
    one = deployment.client(deployment.subaccount("dev-one", {"team": "developer"}), "team")
    two = deployment.client(deployment.subaccount("dev-two", {"team": "developer"}), "team")
    return one, two


def test_another_developer_cannot_touch_my_upload(developers: tuple[Api, Api]):
    owner, other = developers
    data = os.urandom(4096)
    sha = hashlib.sha256(data).hexdigest()
    upload = owner.ok("POST", f"{API}/uploads", json={"size": len(data), "resume_key": "ckpt-key"})
    url = f"{API}/uploads/{upload['id']}"
    owner.ok("PATCH", url, content=data[:1000], headers={"Upload-Offset": "0"})
    assert other.head(url).status_code == 404
    for response in (
        other.get(url),
        other.patch(url, content=data[1000:], headers={"Upload-Offset": "1000"}),
        other.post(f"{url}/complete", json={"sha256": sha}),
        other.delete(url),
    ):
        assert response.status_code == 404 and response.json()["code"] == "Upload.NotFound", response.text
        assert upload["id"] not in response.text
    # The same resume key names the other developer's own, new upload, never the owner's.
    theirs = other.ok("POST", f"{API}/uploads", json={"size": len(data), "resume_key": "ckpt-key"})
    assert theirs["id"] != upload["id"] and theirs["offset"] == 0
    # The owner's upload is untouched: it resumes where it stopped and completes.
    mine = owner.ok("POST", f"{API}/uploads", json={"size": len(data), "resume_key": "ckpt-key"})
    assert mine["id"] == upload["id"] and mine["offset"] == 1000
    owner.ok("PATCH", url, content=data[1000:], headers={"Upload-Offset": "1000"})
    assert owner.ok("POST", f"{url}/complete", json={"sha256": sha})["sha256"] == sha


# ---- a kill between placing the blob and the commit ---------------------------------------------------


def _complete(url: str, key: str, upload_id: str, f: Path) -> None:
    try:
        Api(url, key).post(f"{API}/uploads/{upload_id}/complete", json={"sha256": sha256_of(f)})
    except httpx.TransportError:
        pass  # the server is killed while this waits


class Wire:
    """Counts the upload bytes a client puts on the wire."""

    def __init__(self) -> None:
        self.patched = 0

    def __call__(self, request: httpx.Request) -> None:
        if request.method == "PATCH":
            self.patched += int(request.headers.get("content-length", "0"))


@pytest.mark.slow
def test_a_kill_between_blob_and_commit_loses_no_upload(tmp_path: Path):
    """Both completions are held at their commit (the test holds SQLite's write lock), their blobs already
    placed; the server is killed there. After a restart, asking `complete` again, or re-running the
    upload, finishes each one and no byte is sent again."""
    home = tmp_path / "home"
    files = [make_file(tmp_path / f"{n}.bin", 6 * MiB + n, seed=n) for n in (1, 2)]
    proc, url = serve(home)
    key = (home / "admin.key").read_text().strip()
    api = Api(url, key)
    uploads = []
    for f in files:
        size = f.stat().st_size
        up = api.ok("POST", f"{API}/uploads", json={"size": size, "resume_key": transfer.resume_key(f)})
        api.ok("PATCH", f"{API}/uploads/{up['id']}", content=f.read_bytes(), headers={"Upload-Offset": "0"})
        uploads.append(up["id"])
    lock = sqlite3.connect(home / "modeldeck.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # every write transaction of the server now waits
    held = [threading.Thread(target=_complete, args=(url, key, u, f)) for u, f in zip(uploads, files)]
    for t in held:
        t.start()
    try:
        wait_for(lambda: set(stored_blobs(home)) == {sha256_of(f) for f in files})
    finally:
        kill(proc)
        lock.rollback()
        lock.close()
    for t in held:
        t.join(30)
    assert rows(home, "SELECT digest FROM workspace_blobs") == set()  # placed, never recorded
    proc, url = serve(home)
    try:
        wire = Wire()
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, event_hooks={"request": [wire]})
        assert client.head(f"{API}/uploads/{uploads[0]}").headers["upload-offset"] == str(files[0].stat().st_size)
        done = client.post(f"{API}/uploads/{uploads[0]}/complete", json={"sha256": sha256_of(files[0])})
        assert done.status_code == 200 and done.json()["complete"], done.text
        artifact = transfer.upload_artifact(client, files[1])  # a re-run of the interrupted upload
        assert artifact["files"][0]["sha256"] == sha256_of(files[1])
        assert wire.patched == 0
        assert rows(home, "SELECT digest FROM workspace_blobs") == {sha256_of(f) for f in files}
        assert rows(home, "SELECT id FROM uploads") == set() and staged_files(home) == set()
        for digest, path in stored_blobs(home).items():
            assert sha256_of(path) == digest
        client.close()
    finally:
        kill(proc)


# ---- kill -9 cycles during uploads, then gc, then rows against blobs ----------------------------------


def _uploader(url: str, key: str, files: list[Path], acknowledged: dict[str, str], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for f in files:
            if stop.is_set():
                return
            try:
                acknowledged[f.name] = transfer.upload_file(client, f, retries=0)
            except Exception:  # the server was killed under this upload
                return


@pytest.mark.slow
def test_kill_9_cycles_during_uploads_then_gc_leaves_nothing_lost_or_orphaned(tmp_path: Path):
    home = tmp_path / "home"
    rng = random.Random(15)
    # Up to 3 pieces each (PIECE is 1 MiB): enough to be cut mid-file by every kill, half the bytes of 6.
    files = [make_file(tmp_path / "src" / f"f{n}.bin", rng.randrange(1, 3 * MiB), seed=n) for n in range(30)]
    acknowledged: dict[str, str] = {}
    key = None
    for cycle in range(4):
        proc, url = serve(home)
        key = key or (home / "admin.key").read_text().strip()
        pending = [f for f in files if f.name not in acknowledged]
        if len(pending) < 3:
            kill(proc)
            break
        stop = threading.Event()
        workers = [threading.Thread(target=_uploader, args=(url, key, pending[i::3], acknowledged, stop))
                   for i in range(3)]  # fmt: skip
        for w in workers:
            w.start()
        before = len(acknowledged)
        wait_for(lambda: len(acknowledged) >= before + 2, timeout=60, interval=0.002)
        threading.Event().wait(rng.random() * 0.05)
        kill(proc)
        stop.set()
        for w in workers:
            w.join(60)
    assert gc_cli(home, "--grace", "0").startswith("removed")
    held = rows(home, "SELECT digest FROM workspace_blobs")
    blobs = stored_blobs(home)
    for name, digest in acknowledged.items():  # nothing acknowledged was lost
        assert digest in held and sha256_of(blobs[digest]) == digest, name
    assert set(blobs) == held  # no blob without its row, no row without its blob
    upload_ids = rows(home, "SELECT id FROM uploads")
    assert {p[:-5] for p in staged_files(home)} == upload_ids  # every staged file is a resumable upload
    # Everything not acknowledged can still be uploaded, and a second sweep finds nothing left to remove.
    proc, url = serve(home)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            for f in files:
                assert transfer.upload_file(client, f) == sha256_of(f)
    finally:
        kill(proc)
    assert rows(home, "SELECT digest FROM workspace_blobs") == set(stored_blobs(home)) == {sha256_of(f) for f in files}
    assert gc_cli(home, "--grace", "0").startswith("removed 0 orphan blobs, 0 abandoned uploads, 0 staged files")


# ---- the periodic sweep ---------------------------------------------------------------------------------


def test_the_server_sweeps_orphans_but_keeps_what_is_held_or_in_flight(tmp_path: Path):
    home = tmp_path / "home"
    dep = deploy(Settings(home=home, gc_interval=0.1, gc_grace=0))
    try:
        api = dep.admin
        kept = transfer.upload_file(api, make_file(tmp_path / "kept.bin", 1000, seed=1))
        data = b"in flight"
        in_flight = api.ok("POST", f"{API}/uploads", json={"size": len(data) * 2})
        api.ok("PATCH", f"{API}/uploads/{in_flight['id']}", content=data, headers={"Upload-Offset": "0"})
        orphan = hashlib.sha256(b"orphan").hexdigest()  # left behind by a process killed mid-completion
        path = home / "blobs" / "sha256" / orphan[:2] / orphan
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"orphan")
        (home / "uploads" / "upl-0123456789abcdef01234567.part").write_bytes(b"")  # its row never committed
        wait_for(lambda: orphan not in stored_blobs(home) and len(staged_files(home)) == 1)
        assert kept in stored_blobs(home)
        api.ok("PATCH", f"{API}/uploads/{in_flight['id']}", content=data, headers={"Upload-Offset": str(len(data))})
        done = api.ok("POST", f"{API}/uploads/{in_flight['id']}/complete", json={"sha256": hashlib.sha256(data * 2).hexdigest()})
        assert done["complete"]
    finally:
        dep.close()


def test_gc_keeps_recent_orphans_within_the_grace_period(deployment: Deployment, tmp_path: Path):
    home = deployment.platform.settings.home
    orphan = hashlib.sha256(b"recent").hexdigest()
    path = home / "blobs" / "sha256" / orphan[:2] / orphan
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"recent")
    assert gc_cli(home).startswith("removed 0 orphan blobs")
    assert path.exists()
    assert gc_cli(home, "--grace", "0").startswith("removed 1 orphan blobs")
    assert not path.exists()
