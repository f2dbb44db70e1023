"""Same-machine imports: the embedded server copies a file by path; everything else refuses, the client uploads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import modeldeck as md
from conftest import Api, Deployment, deploy
from modeldeck import transfer
from modeldeck.platform import Settings
from test_uploads import MiB, assert_blobs_intact, make_file, sha256_of, stored_blobs


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Deployment]:
    """A platform that imports by path, as the embedded server does (`modeldeck serve --embedded`)."""
    dep = deploy(Settings(home=tmp_path / "local-home", local_imports=True))
    yield dep
    dep.close()


def described(file: Path, **changes: object) -> dict[str, object]:
    info = os.stat(file, follow_symlinks=False)
    body = {"path": str(file), "size": info.st_size, "device": info.st_dev, "inode": info.st_ino,
            "mtime_ns": info.st_mtime_ns}  # fmt: skip
    return {**body, **changes}


def recording(api: Api) -> list[str]:
    """The requests the client sends, as 'METHOD /path'."""
    sent: list[str] = []
    api.event_hooks["request"].append(lambda request: sent.append(f"{request.method} {request.url.path}"))
    return sent


def checkpoint(root: Path) -> Path:
    make_file(root / "model.bin", 3 * MiB + 17, seed=1)  # random bytes: no format claimed
    make_file(root / "weights" / "part-0001.bin", 9 * MiB, seed=2)
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "vocab.json").write_text('{"a": 1}')
    return root


def test_a_folder_imported_by_path_is_the_artifact_an_upload_makes(local: Deployment, deployment: Deployment,
                                                                  tmp_path: Path):  # fmt: skip
    ckpt = checkpoint(tmp_path / "ckpt")
    api, team = local.admin, deployment.admin
    imported_requests, uploaded_requests = recording(api), recording(team)
    imported = transfer.upload_artifact(api, ckpt)
    uploaded = transfer.upload_artifact(team, ckpt)
    assert imported["uri"] == uploaded["uri"] and imported["files"] == uploaded["files"]
    assert imported_requests.count("POST /api/v1/imports") == 3
    assert not any(r.startswith("PATCH") for r in imported_requests)
    assert any(r.startswith("PATCH") for r in uploaded_requests)  # the team server refused: the client uploaded
    assert uploaded_requests.count("POST /api/v1/imports") == 1  # and asked only once
    for f in imported["files"]:
        got = api.get(f"/api/v1/artifacts/{imported['digest']}/files/{f['path']}")
        assert got.content == (ckpt / f["path"]).read_bytes()
    assert stored_blobs(local.platform.settings.home).keys() == stored_blobs(deployment.platform.settings.home).keys()
    assert_blobs_intact(local.platform.settings.home)
    assert list((local.platform.settings.home / "uploads").glob("*")) == []  # nothing left staged
    api.ok("POST", "/api/v1/models", json={"model_name": "m"})
    version = api.ok("POST", "/api/v1/models/m/versions", json={"uri": imported["uri"]})
    assert version["uri"] == imported["uri"]


def test_a_stated_digest_must_match(local: Deployment, tmp_path: Path):
    f = make_file(tmp_path / "a.bin", 2 * MiB)
    api = local.admin
    wrong = api.post("/api/v1/imports", json=described(f, sha256="0" * 64))
    assert wrong.status_code == 400 and wrong.json()["code"] == "Artifact.DigestMismatch"
    assert stored_blobs(local.platform.settings.home) == {}
    right = api.ok("POST", "/api/v1/imports", json=described(f, sha256=sha256_of(f)))
    assert right == {"sha256": sha256_of(f), "size": 2 * MiB}


def refusal(api: Api, body: dict[str, object]) -> str:
    response = api.post("/api/v1/imports", json=body)
    assert response.status_code in (400, 403), response.text
    assert response.json()["hint"]
    return response.json()["code"]


def test_links_special_files_and_the_wrong_file_are_refused(local: Deployment, tmp_path: Path):
    api = local.admin
    target = make_file(tmp_path / "target.bin", MiB)
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    assert refusal(api, described(target, path=str(link))) == "Import.Refused"  # the target's stat, by the link
    linked = make_file(tmp_path / "linked.bin", MiB, seed=3)
    os.link(linked, tmp_path / "second-name.bin")
    assert refusal(api, described(linked)) == "Import.Refused"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert refusal(api, described(fifo)) == "Import.Refused"
    assert refusal(api, described(target, inode=described(target)["inode"] + 1)) == "Import.Refused"
    assert refusal(api, described(target, size=MiB + 1)) == "Import.Refused"
    assert refusal(api, described(target, path="target.bin")) == "Import.Refused"  # relative
    assert refusal(api, described(target, path=str(tmp_path / "missing.bin"))) == "Import.Refused"
    key_file = local.platform.settings.admin_key_file
    assert refusal(api, described(key_file)) == "Import.Forbidden"  # the platform's own state: never, not even by upload
    assert stored_blobs(local.platform.settings.home) == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_of_another_user_is_refused(local: Deployment, tmp_path: Path):
    theirs = make_file(tmp_path / "theirs.bin", MiB)
    os.chown(theirs, 65534, 65534)
    assert refusal(local.admin, described(theirs)) == "Import.Refused"


def test_only_the_main_key_on_a_server_that_allows_it(local: Deployment, deployment: Deployment, tmp_path: Path):
    f = make_file(tmp_path / "a.bin", MiB)
    assert refusal(deployment.admin, described(f)) == "Import.Disabled"
    key = local.subaccount("ops", {"default": "admin"})
    sub = local.client(key, "default")
    assert refusal(sub, described(f)) == "Import.AccessDenied"
    sent = recording(sub)
    artifact = transfer.upload_artifact(sub, f)  # the client falls back to uploading
    assert artifact["files"][0]["sha256"] == sha256_of(f) and any(r.startswith("PATCH") for r in sent)
    assert local.client(key).post("/api/v1/imports", json=described(f)).json()["code"] == "Workspace.AccessDenied"


def test_the_client_uploads_what_the_server_will_not_import(local: Deployment, tmp_path: Path):
    f = make_file(tmp_path / "a.bin", MiB, seed=4)
    os.link(f, tmp_path / "b.bin")  # a hard link: refused for import, but the client may read its own file
    api = local.admin
    sent = recording(api)
    artifact = transfer.upload_artifact(api, f)
    assert artifact["files"][0]["sha256"] == sha256_of(f)
    assert "POST /api/v1/imports" in sent and any(r.startswith("PATCH") for r in sent)
    g = make_file(tmp_path / "c.bin", MiB, seed=5)
    sent.clear()
    transfer.upload_artifact(api, g)  # a refused file does not stop imports of the next one
    assert "POST /api/v1/imports" in sent and not any(r.startswith("PATCH") for r in sent)


def test_the_embedded_server_imports_for_deck_register(isolated_user: Path, tmp_path: Path):
    ckpt = checkpoint(tmp_path / "ckpt")
    with md.connect() as deck:
        version = deck.register("imported", ckpt, progress=False)
        key = (Path(os.environ["MODELDECK_HOME"]) / "admin.key").read_text().strip()
        with httpx.Client(base_url=deck.url, headers={"Authorization": f"Bearer {key}"}) as api:
            f = ckpt / "model.bin"
            assert api.post("/api/v1/imports", json=described(f)).json()["sha256"] == sha256_of(f)
            digest = version.uri.removeprefix("artifact://sha256:")
            files = api.get(f"/api/v1/artifacts/{digest}").json()["files"]
    assert {f["path"]: f["sha256"] for f in files} == {
        p: sha256_of(ckpt / p) for p in ("model.bin", "tokenizer/vocab.json", "weights/part-0001.bin")
    }
