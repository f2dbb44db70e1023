"""Operations over the public interfaces: /metrics read by Prometheus' own parser, the JSON access log of a
real `modeldeck serve`, and `modeldeck backup` / `restore` round trips."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import modeldeck as md
from conftest import Api, Deployment, wait_for
from modeldeck import examples, transfer
from services import Replica
from test_uploads import make_file

API = "/api/v1"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_metrics_count_requests_by_route_latencies_uploads_runtimes_and_tasks(deployment: Deployment, tmp_path: Path):
    admin = deployment.admin
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        deck.register("linear", examples.onnx_linear(tmp_path / "linear.onnx"), format="ONNX", progress=False)
        X, _ = examples.tabular_data(n=2, seed=1)
        for _ in range(3):
            deck.predict("linear", X)
    for _ in range(2):
        admin.ok("GET", f"{API}/models")
    assert admin.get(f"{API}/no-such/thing-named-by-a-caller").status_code == 404
    size = 3000
    transfer.upload_file(admin, make_file(tmp_path / "w.bin", size, seed=4))
    response = admin.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    assert value(found, "modeldeck_requests_total", method="GET", route="/api/v1/models", status="200") == 2
    assert value(found, "modeldeck_requests_total", method="POST", route="/api/v1/models/{model}/predict",
                 status="200") == 3  # fmt: skip
    assert value(found, "modeldeck_requests_total", method="GET", route="unmatched", status="404") == 1
    assert "thing-named-by-a-caller" not in response.text
    assert value(found, "modeldeck_request_duration_seconds_count", route="/api/v1/models/{model}/predict") == 3
    assert value(found, "modeldeck_request_duration_seconds_bucket", route="/api/v1/models/{model}/predict",
                 le="+Inf") == 3  # fmt: skip
    assert value(found, "modeldeck_upload_bytes_total") >= size
    assert value(found, "modeldeck_uploads_in_progress") == 0
    assert value(found, "modeldeck_runtimes_loaded") == 1
    assert value(found, "modeldeck_tasks", status="PENDING") == 0
    assert value(found, "modeldeck_internal_errors_total") == 0


def test_requests_in_flight_count_what_is_being_answered_and_leave_event_subscriptions_apart(deployment: Deployment):
    """The gauge the hot lanes read to know whether anyone waits for the event loop."""
    admin, auth = deployment.admin, {"Authorization": f"Bearer {deployment.admin_key}"}

    def in_flight() -> float:  # the /metrics request itself is one
        return value(samples(transfer.check(admin.get("/metrics")).text), "modeldeck_requests_in_flight")

    with httpx.Client(base_url=deployment.url, headers=auth, timeout=30) as client, client.stream("GET", f"{API}/events"):
        assert in_flight() == 1
        host, port = deployment.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port))) as half:  # a body that is still arriving
            half.sendall(f"POST {API}/models HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth['Authorization']}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())  # fmt: skip
            wait_for(lambda: in_flight() == 2, timeout=10)
        wait_for(lambda: in_flight() == 1, timeout=10)


def test_metrics_are_for_the_main_account(deployment: Deployment):
    dev = deployment.client(deployment.subaccount("dev", {"default": "developer"}), "default")
    refused = dev.get("/metrics")
    assert refused.status_code == 403 and refused.json()["code"] == "Metrics.AccessDenied" and refused.json()["hint"]
    assert Api(deployment.url, None).get("/metrics").status_code == 401


@pytest.mark.slow
def test_the_access_log_is_one_json_line_per_request_without_secrets(tmp_path: Path):
    server = Replica(tmp_path / "home")
    try:
        key = server.key
        assert key
        ids = []
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as api:
            ids.append(api.get(f"{API}/models").headers["x-request-id"])
            ids.append(api.get(f"{API}/models", headers={"X-ModelDeck-Workspace": key}).headers["x-request-id"])
            ids.append(api.get(f"{API}/models/{key}", params={"api_key": key}).headers["x-request-id"])
            ids.append(api.get(f"/{key}").headers["x-request-id"])
            ids.append(httpx.get(f"{server.url}{API}/models", headers={"Authorization": "Bearer md-wrong-secret"})
                       .headers["x-request-id"])  # fmt: skip
    finally:
        server.stop()
    text = server.log.read_text()
    assert key not in text and "md-wrong-secret" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = {line["request_id"]: line for line in lines if line["logger"] == "modeldeck.access"}
    assert set(ids) <= set(requests)
    first = requests[ids[0]]
    assert first["route"] == "/api/v1/models" and first["status"] == 200 and first["method"] == "GET"
    assert isinstance(first["duration_ms"], float) and first["ts"].endswith("+00:00")
    assert requests[ids[2]]["route"] == "/api/v1/models/{model}"
    assert requests[ids[3]]["route"] == "unmatched" and requests[ids[3]]["status"] == 404
    assert requests[ids[4]]["status"] == 401


# ---- backup and restore ---------------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "modeldeck", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _fill(url: str, key: str, tmp_path: Path) -> dict:
    """A model, an uploaded artifact and a version of it; returns what must survive a round trip."""
    with md.connect(url=url, api_key=key) as deck:
        weights = make_file(tmp_path / "fill" / "weights.bin", 200_000, seed=8)
        v = deck.register("kept", weights, version="1.2.0", progress=False)
    return {"uri": v.uri, "bytes": weights.read_bytes()}


def _check(url: str, key: str, kept: dict) -> None:
    api = Api(url, key)
    versions = api.ok("GET", f"{API}/models/kept/versions")["items"]
    assert [(v["version_name"], v["uri"]) for v in versions] == [("1.2.0", kept["uri"])]
    digest = kept["uri"].removeprefix("artifact://sha256:")
    artifact = api.ok("GET", f"{API}/artifacts/{digest}")
    path = artifact["files"][0]["path"]
    assert api.get(f"{API}/artifacts/{digest}/files/{path}").content == kept["bytes"]


@pytest.mark.slow
def test_backup_and_restore_a_home(tmp_path: Path):
    source = Replica(tmp_path / "home")
    try:
        key = source.key
        assert key
        kept = _fill(source.url, key, tmp_path)
        assert "1 blobs" in cli("backup", "--home", str(source.home), str(tmp_path / "bak"))  # while it serves
    finally:
        source.stop()
    assert (tmp_path / "bak").stat().st_mode & 0o077 == 0
    assert "1 blobs" in cli("restore", "--home", str(tmp_path / "restored"), str(tmp_path / "bak"))
    refused = subprocess.run([sys.executable, "-m", "modeldeck", "restore", "--home", str(tmp_path / "restored"),
                              str(tmp_path / "bak")], capture_output=True, text=True)  # fmt: skip
    assert refused.returncode == 1 and "not empty" in refused.stderr
    restored = Replica(tmp_path / "restored")
    try:
        assert restored.key is None  # no new account: the old key works, as stored in the database
        _check(restored.url, key, kept)
    finally:
        restored.stop()


@pytest.mark.slow
@pytest.mark.postgres
def test_backup_and_restore_a_team_server(postgres, tmp_path: Path):
    store = ["--db", postgres.create_database(), "--blobs", str(tmp_path / "team-blobs")]
    source = Replica(tmp_path / "team", *store)
    try:
        key = source.key
        assert key
        kept = _fill(source.url, key, tmp_path)
        cli("backup", "--home", str(source.home), *store, str(tmp_path / "bak"))
    finally:
        source.stop()
    target = ["--db", postgres.create_database(), "--blobs", str(tmp_path / "new-blobs")]
    assert "1 blobs" in cli("restore", "--home", str(tmp_path / "team2"), *target, str(tmp_path / "bak"))
    restored = Replica(tmp_path / "team2", *target)
    try:
        _check(restored.url, key, kept)
    finally:
        restored.stop()


# ---- deploy/: compose and Kubernetes manifests (they cannot run here: they are read and cross-checked) -----

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _serve_args(args: list[str]):  # type: ignore[no-untyped-def]
    """The arguments a container passes, parsed by the real CLI."""
    from modeldeck.cli import _parser

    parsed = _parser().parse_args(args)
    assert parsed.command == "serve"
    return parsed


def test_the_compose_file_puts_two_replicas_behind_haproxy_on_postgres_and_s3():
    import yaml

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [name for name, s in services.items() if s.get("image") == "modeldeck:latest"]
    assert replicas == ["deck-1", "deck-2"]
    for name in replicas:
        args = _serve_args(services[name]["command"])
        assert args.db.startswith("postgresql://") and "@postgres:5432/" in args.db
        assert args.blobs.startswith("s3://") and args.port == 8765 and args.host == "0.0.0.0"
        env = services[name]["environment"]
        assert env["FSSPEC_S3_ENDPOINT_URL"] == "http://minio:9000" and env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert services["postgres"]["image"].startswith("postgres:") and services["minio"]["image"].startswith("minio/")
    lb = services["haproxy"]
    assert lb["image"].startswith("haproxy:") and "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert [f"{r}:8765" for r in replicas] == [line.split()[2] for line in config.splitlines() if line.strip().startswith("server ")]
    assert "bind :8080" in config and lb["ports"] == ["127.0.0.1:8080:8080"]


def test_the_kubernetes_manifests_agree_on_names_ports_and_secrets():
    import yaml

    docs = [d for f in sorted((DEPLOY / "kubernetes").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Deployment", "Service", "Secret"}
    deployment, service, secret = kinds["Deployment"], kinds["Service"], kinds["Secret"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2 and spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "modeldeck:latest"
    args = _serve_args(container["args"])
    assert args.port == 8765 and args.blobs.startswith("s3://")
    assert container["ports"] == [{"name": "http", "containerPort": 8765}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    refs = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert all(e["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"] for e in container["env"] if "valueFrom" in e)
    assert refs == set(secret["stringData"])
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
