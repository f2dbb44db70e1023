"""Bad input over HTTP gets a clear, typed error, and changes nothing."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from pathlib import Path

import pytest

from conftest import Api, Deployment, deploy
from modeldeck.platform import Settings


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    dep = deploy(Settings(home=tmp_path_factory.mktemp("bad") / "home"))
    yield dep
    dep.close()


@pytest.fixture
def api(shared: Deployment) -> Api:
    """The admin in a fresh workspace holding one model `m`, so each test sees only its own effects."""
    ws = "w" + uuid.uuid4().hex[:12]
    shared.admin.ok("POST", "/api/v1/workspaces", json={"name": ws})
    api = shared.client(workspace=ws)
    api.ok("POST", "/api/v1/models", json={"model_name": "m"})
    yield api
    for model in api.ok("GET", "/api/v1/models")["items"]:
        api.delete(f"/api/v1/models/{model['id']}")
    shared.admin.delete(f"/api/v1/workspaces/{ws}")


def uploaded(api: Api, data: bytes) -> str:
    up = api.ok("POST", "/api/v1/uploads", json={"size": len(data)})
    api.patch(f"/api/v1/uploads/{up['id']}", content=data, headers={"Upload-Offset": "0"})
    digest = hashlib.sha256(data).hexdigest()
    api.ok("POST", f"/api/v1/uploads/{up['id']}/complete", json={"sha256": digest})
    return digest


def no_versions(api: Api) -> bool:
    return api.ok("GET", "/api/v1/models/m/versions")["items"] == []


BAD_PATHS = [
    "../model.onnx", "..\\model.onnx", "a/../../b", "%2e%2e/x", "%252e%252e%252fx", "..%2fx", "a;b/../c",
    "#/../x", "a?x=..", "/etc/passwd", "C:\\Windows\\x", "C:/x", "\\\\server\\share\\x", "//server/share",
    "a\x00b", "a//b", "./a", "CON", "\uff0e\uff0e/x", "x" * 300, "",
]  # fmt: skip


@pytest.mark.parametrize("path", BAD_PATHS)
def test_traversal_in_artifact_paths(api: Api, path: str):
    digest = uploaded(api, b"weights")
    r = api.post("/api/v1/artifacts", json={"files": [{"path": path, "sha256": digest}]})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter.Path", r.text
    assert r.json()["hint"]


BAD_URIS = [
    "file:///etc/passwd", "file://host/x", "/abs/model.onnx", "relative/model.onnx", "mlflow-artifacts:/x",
    "oss://bucket/../x", "oss://bucket/a/%2e%2e/b", "obs://b/a/..%252f", "s3://bucket/k#/../x", "oss://bucket/a;/../b",
    "https://169.254.169.254/latest/meta-data", "http://[::ffff:169.254.169.254]/", "http://2130706433/",
    "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://localhost:8080/", "http://LOCALHOST./",
    "http://metadata.google.internal/", "http://100.100.100.200/", "http://10.0.0.5/", "http://192.168.1.1/",
    "http://[fd00:ec2::254]/", "http://[fe80::1]/", "http://0.0.0.0/", "http://user:pw@example.com/m.onnx",
    "javascript:alert(1)", "data:text/plain,x", "artifact://sha256:XYZ", "C:\\models\\m.onnx", "\\\\srv\\share\\m",
    "oss://bucket/a\x00b",
]  # fmt: skip


@pytest.mark.parametrize("uri", BAD_URIS)
def test_bad_uris_are_refused_and_change_nothing(api: Api, uri: str):
    r = api.post("/api/v1/models/m/versions", json={"uri": uri})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] in ("InvalidParameter.Uri", "InvalidParameter.Address", "Artifact.NotFound")
    assert body["hint"]
    assert "pw@" not in r.text  # credentials in a URI are never echoed
    assert no_versions(api)


def test_an_unknown_artifact_is_refused(api: Api):
    r = api.post("/api/v1/models/m/versions", json={"uri": "artifact://sha256:" + "a" * 64})
    assert r.status_code == 400 and r.json()["code"] == "Artifact.NotFound"


def test_an_admin_can_allow_a_private_range(tmp_path: Path):
    dep = deploy(Settings(home=tmp_path / "home", allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),)))
    try:
        api = dep.admin
        api.ok("POST", "/api/v1/models", json={"model_name": "m"})
        assert api.post("/api/v1/models/m/versions", json={"uri": "http://10.0.0.5/m.onnx"}).status_code == 201
        assert api.post("/api/v1/models/m/versions", json={"uri": "http://127.0.0.1/m.onnx"}).status_code == 400
    finally:
        dep.close()


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("POST", "/api/v1/models", {"content": b'{"model_name": ', "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/v1/models", {"content": b"\xff\xfe\x00", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/v1/models", {"json": ["not", "an", "object"]}),
        ("POST", "/api/v1/models", {"json": {"model_name": "x", "unexpected": 1}}),
        ("POST", "/api/v1/models/m/versions", {"json": {"uri": "oss://b/k", "labels": "not-a-map"}}),
        ("POST", "/api/v1/models/m/versions", {"json": {"uri": "oss://b/k", "metrics": [1, 2]}}),
        ("POST", "/api/v1/models/m/versions", {"json": {"uri": 12}}),
        ("POST", "/api/v1/uploads", {"json": {"size": -1}}),
        ("POST", "/api/v1/uploads", {"json": {"size": 1, "sha256": "../../etc"}}),
        ("GET", "/api/v1/models?limit=0", {}),
        ("GET", "/api/v1/models?limit=100000", {}),
        ("GET", "/api/v1/models?cursor=%00%01", {}),
        ("PUT", "/api/v1/models/m/grants/default", {"json": {"actions": ["everything"]}}),
        ("PUT", "/api/v1/models/m/grants/default", {"json": {"actions": []}}),
        ("PATCH", "/api/v1/settings", {"json": {"authorization_mode": "yolo"}}),
        ("POST", "/api/v1/workspaces", {"json": {"name": "../etc"}}),
        ("POST", "/api/v1/workspaces", {"json": {"name": "x" * 65}}),
        ("POST", "/api/v1/accounts", {"json": {"name": "a b"}}),
    ],
)
def test_malformed_bodies_and_parameters(api: Api, method: str, url: str, kwargs: dict):
    r = api.request(method, url, **kwargs)
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"code", "message", "hint", "request_id"}
    assert body["code"].startswith("InvalidParameter") and body["hint"]
    assert body["request_id"] == r.headers["x-request-id"]
    assert [m["model_name"] for m in api.ok("GET", "/api/v1/models")["items"]] == ["m"]
    assert no_versions(api)


def test_oversize_bodies(api: Api):
    big = {"uri": "oss://b/k", "description": "x" * (2 << 20)}
    r = api.post("/api/v1/models/m/versions", json=big)
    assert r.status_code == 413 and r.json()["code"] == "RequestTooLarge"

    def chunked():
        for _ in range(300):
            yield b" " * 8192

    r = api.post("/api/v1/models/m/versions", content=chunked(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert no_versions(api)


def test_errors_never_carry_tracebacks_and_unknown_routes_are_json(api: Api):
    for r in (api.get("/api/v1/nope"), api.delete("/api/v1/models"), api.get("/api/v1/models/%00")):
        assert r.status_code in (400, 404, 405)
        assert r.json()["code"] and "Traceback" not in r.text
