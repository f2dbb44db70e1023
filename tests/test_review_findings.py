"""Regression tests for the holes an outside security review found (issue 15), each through the HTTP API."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, Deployment, deploy, wait_for
from modeldeck.platform import Settings

API = "/api/v1"
MESSAGES = [{"role": "user", "content": "hello"}]

# ---- DNS rebinding through the upstream proxy ---------------------------------------------------------


class Upstream(BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible server: answers every chat completion with the text of its `name`."""

    name = "upstream"
    seen: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"host": self.headers["Host"], "auth": self.headers.get("Authorization"), "body": body})
        text = f"answered by {self.name}"
        if body.get("stream"):
            chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text},
                                                                     "finish_reason": "stop"}]}  # fmt: skip
            payload = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
            content_type = "text/event-stream"
        else:
            payload = json.dumps({
                "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }).encode()  # fmt: skip
            content_type = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def serve(host: str, port: int, name: str) -> tuple[ThreadingHTTPServer, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    handler = type(name, (Upstream,), {"name": name, "seen": seen})
    server_class = type("Server", (ThreadingHTTPServer,), {"address_family": socket.getaddrinfo(host, 0)[0][0]})
    server = server_class((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


class Rebinding:
    """A DNS name under the test's control: the first lookup after `arm()` answers the allowed upstream
    (127.0.0.1), every later one the loopback service the platform must never reach (::1)."""

    def __init__(self) -> None:
        self.lookups = 0

    def arm(self) -> None:
        self.lookups = 0

    def __call__(self, name: str, port: int) -> list[str]:
        assert name == "models.example.com"
        self.lookups += 1
        return ["127.0.0.1"] if self.lookups == 1 else ["::1"]


@pytest.fixture
def rebinding(tmp_path: Path) -> Iterator[tuple[Deployment, Rebinding, dict[str, Any]]]:
    for _ in range(20):  # the same port on both addresses, so only the address tells them apart
        upstream, seen = serve("127.0.0.1", 0, "upstream")
        port = upstream.server_address[1]
        try:
            canary, touched = serve("::1", port, "canary")
            break
        except OSError:
            upstream.shutdown()
            upstream.server_close()
    else:
        pytest.fail("no port free on both loopback addresses")
    resolver = Rebinding()
    dep = deploy(Settings(home=tmp_path / "home", allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
                          resolver=resolver))  # fmt: skip
    spec = {"upstream": {"base_url": f"http://models.example.com:{port}/v1", "model": "up", "api_key": "sk-up"}}
    dep.admin.ok("POST", f"{API}/models", json={"model_name": "remote"})
    dep.admin.ok("POST", f"{API}/models/remote/versions", json={"uri": "oss://b/x", "inference_spec": spec})
    try:
        yield dep, resolver, {"seen": seen, "touched": touched, "host": f"models.example.com:{port}"}
    finally:
        dep.close()
        for server in (upstream, canary):
            server.shutdown()
            server.server_close()


def test_the_upstream_proxy_connects_to_the_address_it_checked(rebinding):
    """Chat, streamed chat and chat tasks each resolve the upstream's name once, check that address and
    connect to it; the name answering a loopback address on a second lookup changes nothing."""
    dep, resolver, servers = rebinding
    api = dep.admin
    resolver.arm()
    reply = api.ok("POST", "/v1/chat/completions", json={"model": "remote", "messages": MESSAGES})
    assert reply["choices"][0]["message"]["content"] == "answered by upstream"
    resolver.arm()
    with api.stream("POST", "/v1/chat/completions", json={"model": "remote", "messages": MESSAGES, "stream": True}) as r:
        assert r.status_code == 200
        streamed = r.read().decode()
    assert "answered by upstream" in streamed and streamed.rstrip().endswith("data: [DONE]")
    resolver.arm()
    task = api.ok("POST", f"{API}/tasks", json={"kind": "chat", "model": "remote", "input": {"messages": MESSAGES}})
    wait_for(lambda: api.ok("GET", f"{API}/tasks/{task['id']}")["status"] in ("SUCCEEDED", "FAILED"))
    done = api.ok("GET", f"{API}/tasks/{task['id']}")
    assert done["status"] == "SUCCEEDED", done
    assert done["result"]["choices"][0]["message"]["content"] == "answered by upstream"
    assert servers["touched"] == []  # the loopback service was never reached
    assert len(servers["seen"]) == 3
    for request in servers["seen"]:  # the name still travels, and so does the upstream key (to the upstream)
        assert request["host"] == servers["host"] and request["auth"] == "Bearer sk-up"
        assert request["body"]["model"] == "up"


def test_a_name_that_now_resolves_to_loopback_is_refused(rebinding):
    """Once the name answers only the forbidden address, every road refuses it with 400 and sends nothing."""
    dep, resolver, servers = rebinding
    resolver.lookups = 1  # the next lookup answers ::1
    api = dep.admin
    for body in ({"model": "remote", "messages": MESSAGES}, {"model": "remote", "messages": MESSAGES, "stream": True}):
        response = api.post("/v1/chat/completions", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "InvalidParameter.Address"
        resolver.lookups = 1
    task = api.ok("POST", f"{API}/tasks", json={"kind": "chat", "model": "remote", "input": {"messages": MESSAGES}})
    wait_for(lambda: api.ok("GET", f"{API}/tasks/{task['id']}")["status"] in ("SUCCEEDED", "FAILED"))
    assert api.ok("GET", f"{API}/tasks/{task['id']}")["error"]["code"] == "InvalidParameter.Address"
    assert servers["touched"] == [] and servers["seen"] == []


# ---- one world for the rest: a developer, a viewer and the main account in a workspace ----------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = deploy(Settings(home=tmp_path_factory.mktemp("findings") / "home"))
    yield dep
    dep.close()


@pytest.fixture
def ws(shared: Deployment) -> Iterator[dict[str, Api]]:
    """A fresh workspace with model `m`, and the main account, a developer and a viewer in it."""
    name = "w" + uuid.uuid4().hex[:10]
    shared.admin.ok("POST", f"{API}/workspaces", json={"name": name})
    keys = {role: shared.subaccount(f"{role}-{name}", {name: role}) for role in ("developer", "viewer")}
    apis = {"main": shared.client(workspace=name), **{r: shared.client(k, name) for r, k in keys.items()}}
    apis["main"].ok("POST", f"{API}/models", json={"model_name": "m"})
    yield apis
    for model in apis["main"].ok("GET", f"{API}/models")["items"]:
        if model["source"] == "owned":
            apis["main"].ok("DELETE", f"{API}/models/{model['id']}")
    shared.admin.ok("DELETE", f"{API}/workspaces/{name}")


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    body = body.get("error", body)  # /v1 answers in OpenAI's shape, with the platform's code kept
    assert body["code"] == code and body.get("hint") or body.get("message"), body
    return body


# ---- approval cannot be taken by registering, nor changed behind it -----------------------------------


@pytest.mark.parametrize("status", ["Approved", "Rejected", "approved"])
def test_a_developer_cannot_register_a_decided_version(ws, status: str):
    """Registering with approval_status decided is deciding: 403 like /approve; the main account may."""
    body = {"uri": "oss://b/k", "approval_status": status}
    error_of(ws["developer"].post(f"{API}/models/m/versions", json=body), 403, "AccessDenied")
    assert ws["main"].ok("GET", f"{API}/models/m/versions")["items"] == []
    pending = ws["developer"].post(f"{API}/models/m/versions", json={**body, "approval_status": "Pending"})
    assert pending.status_code == 201 and pending.json()["approval_status"] == "Pending"
    made = ws["main"].ok("POST", f"{API}/models/m/versions", json=body)
    assert made["approval_status"] == status.capitalize()


def test_what_a_decided_version_serves_cannot_change(ws):
    """Once approved, PATCHing inference_spec (the entry, the upstream) is 409; other fields still change."""
    dev, main = ws["developer"], ws["main"]
    dev.ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k", "inference_spec": {"entry": "a.onnx"}})
    main.ok("POST", f"{API}/models/m/versions/0.1.0/approve")
    for spec in ({"entry": "evil.onnx"}, {}, {"entry": "a.onnx", "upstream": {"base_url": "https://x.example/v1",
                                                                            "model": "m"}}):  # fmt: skip
        r = dev.patch(f"{API}/models/m/versions/0.1.0", json={"inference_spec": spec})
        error_of(r, 409, "Version.ApprovalFinal")
    for field in ("uri", "format_type"):
        r = dev.patch(f"{API}/models/m/versions/0.1.0", json={field: "ONNX" if field == "format_type" else "oss://b/z"})
        assert r.status_code == 400 and r.json()["code"] == "InvalidParameter", r.text
    assert dev.ok("PATCH", f"{API}/models/m/versions/0.1.0", json={"description": "fine"})["description"] == "fine"
    assert dev.ok("GET", f"{API}/models/m/versions/0.1.0")["inference_spec"] == {"entry": "a.onnx"}
    # a Pending version's spec still changes freely
    dev.ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k2"})
    assert dev.ok("PATCH", f"{API}/models/m/versions/0.2.0", json={"inference_spec": {"entry": "b.onnx"}})


# ---- NaN and Infinity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("method", "url", "template"),
    [
        ("POST", "/models/m/versions", '{"uri": "oss://b/k", "metrics": {"acc": %s}}'),
        ("POST", "/models/m/versions", '{"uri": "oss://b/k", "extra_info": {"x": [1, %s]}}'),
        ("POST", "/models/m/versions", '{"uri": "oss://b/k", "labels": {"a": %s}}'),
        ("PATCH", "/models/m", '{"extra_info": {"x": %s}}'),
        ("POST", "/models/m/predict", '{"records": [[%s, 1.0]]}'),
        ("POST", "/tasks", '{"model": "m", "input": {"records": [[%s]]}}'),
    ],
)
def test_nan_and_infinity_are_refused_at_entry(ws, method: str, url: str, template: str, literal: str):
    r = ws["main"].request(method, API + url, content=(template % literal).encode(),
                           headers={"Content-Type": "application/json"})  # fmt: skip
    error_of(r, 400, "InvalidParameter.Body")
    assert "NaN or Infinity" in r.json()["message"]
    assert ws["main"].ok("GET", f"{API}/models/m")["extra_info"] == {}
    assert ws["main"].ok("GET", f"{API}/models/m/versions")["items"] == []


def test_chat_refuses_nan(ws):
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'
    r = ws["main"].post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    error_of(r, 400, "InvalidParameter.Body")


def test_listings_serialize_nan_stored_before_it_was_refused(tmp_path: Path):
    """Rows written by an older platform may hold NaN: listings show it as null instead of failing."""
    import sqlite3

    dep = deploy(Settings(home=tmp_path / "home"))
    try:
        api = dep.admin
        api.ok("POST", f"{API}/models", json={"model_name": "m", "accessibility": "PUBLIC"})
        api.ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k"})
        with sqlite3.connect(tmp_path / "home" / "modeldeck.db") as db:
            db.execute("""UPDATE model_versions SET metrics = '{"acc": NaN, "loss": Infinity}'""")
            db.execute("""UPDATE models SET extra_info = '{"x": -Infinity}'""")
        versions = api.ok("GET", f"{API}/models/m/versions")["items"]
        assert versions[0]["metrics"] == {"acc": None, "loss": None}
        assert api.ok("GET", f"{API}/models/m/versions/0.1.0")["metrics"] == {"acc": None, "loss": None}
        assert api.ok("GET", f"{API}/models")["items"][0]["extra_info"] == {"x": None}
        assert api.ok("GET", f"{API}/models/m")["extra_info"] == {"x": None}
    finally:
        dep.close()


# ---- bad input never makes a 500 ----------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("/api/v1/models/m/predict", b'{"inputs": %s}'),
        ("/api/v1/models/m/versions/0.1.0/predict", b'{"records": %s}'),
        ("/v1/chat/completions", b'{"model": "m", "messages": %s}'),
        ("/api/v1/models/m/versions", b'{"uri": "oss://b/k", "extra_info": {"x": %s}}'),
        ("/api/v1/tasks", b'{"model": "m", "input": {"inputs": %s}}'),
        ("/api/v1/models", b'{"model_name": "deep", "extra_info": {"x": %s}}'),
    ],
)
def test_deeply_nested_json_is_refused_with_400(ws, url: str, template: bytes):
    for depth in (2000, 65):
        r = ws["main"].post(url, content=template % nested(depth), headers={"Content-Type": "application/json"})
        error_of(r, 400, "InvalidParameter.Body")
        assert "deeper than 64" in (r.json().get("error") or r.json())["message"]
    # the limit is on brackets, not on bracket characters inside strings
    text = b'"' + b"[" * 3000 + b'"'
    r = ws["main"].post(f"{API}/models/m/versions", content=b'{"uri": "oss://b/k", "description": %s}' % text,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 201, r.text
    deep_enough = {"x": json.loads(nested(60))}  # 62 levels in all: within the limit
    assert ws["main"].ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k", "extra_info": deep_enough})


@pytest.mark.parametrize("name", ["99999999999999999999.0.0", "1.18446744073709551616.0", "1.0.1000000000",
                                  "1.0.0\n", "01.2.3", "1.02.3", "1.2.03_beta", "1.2.3_\n", " 1.2.3"])  # fmt: skip
def test_version_names_outside_the_pattern_are_refused(ws, name: str):
    r = ws["main"].post(f"{API}/models/m/versions", json={"uri": "oss://b/k", "version_name": name})
    error_of(r, 400, "InvalidParameter.VersionName")


def test_version_name_pattern_accepts_the_usual_names(ws):
    for name in ("0.0.0", "1.0.0", "10.20.30_beta", "999999999.0.1"):
        assert ws["main"].ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k", "version_name": name})


def test_a_trailing_newline_does_not_make_a_second_version(ws):
    ws["main"].ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k", "version_name": "1.0.0"})
    r = ws["main"].post(f"{API}/models/m/versions", json={"uri": "oss://b/k", "version_name": "1.0.0\n"})
    error_of(r, 400, "InvalidParameter.VersionName")
    assert [v["version_name"] for v in ws["main"].ok("GET", f"{API}/models/m/versions")["items"]] == ["1.0.0"]


@pytest.mark.parametrize("entry", [5, ["a.onnx"], {"path": "a"}, True, ""])
def test_a_non_string_entry_is_refused(ws, entry: Any):
    r = ws["main"].post(f"{API}/models/m/versions", json={"uri": "oss://b/k", "inference_spec": {"entry": entry}})
    error_of(r, 400, "InvalidParameter.InferenceSpec")
    ws["main"].ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k"})
    r = ws["main"].patch(f"{API}/models/m/versions/0.1.0", json={"inference_spec": {"entry": entry}})
    error_of(r, 400, "InvalidParameter.InferenceSpec")


# ---- the native API takes only the query parameters it declares, each once --------------------------


def test_a_misspelt_filter_is_refused_not_ignored(ws):
    """Ignored, `aproval_status` would answer every version as if it were the Pending ones."""
    ws["main"].ok("POST", f"{API}/models/m/versions", json={"uri": "oss://b/k"})
    ws["main"].ok("POST", f"{API}/models/m/versions/0.1.0/approve")
    r = ws["main"].get(f"{API}/models/m/versions", params={"aproval_status": "Pending"})
    body = error_of(r, 400, "InvalidParameter.Query")
    assert body["message"] == "Unknown query parameter 'aproval_status'."
    assert body["hint"] == "GET /api/v1/models/{model}/versions takes approval_status, cursor, limit, each at most once."
    assert ws["main"].ok("GET", f"{API}/models/m/versions", params={"approval_status": "Pending"})["items"] == []
    r = ws["main"].get(f"{API}/models", params={"approval_status": "Nope"})  # models take no such filter
    assert error_of(r, 400, "InvalidParameter.Query")["hint"].startswith("GET /api/v1/models takes action, cursor,")


@pytest.mark.parametrize("url", [f"{API}/models?limit=1&limit=2", f"{API}/models/m/versions?limit=2&limit=1",
                                 f"{API}/deployments?cursor=&cursor=", f"{API}/tasks?status=done&status=failed"])  # fmt: skip
def test_a_parameter_given_twice_is_refused(ws, url: str):
    """A proxy that reads the first of two values and a server that reads the last could disagree."""
    body = error_of(ws["main"].get(url), 400, "InvalidParameter.Query")
    assert "is given more than once" in body["message"]


def test_every_native_listing_refuses_an_unknown_parameter(ws, shared: Deployment):
    """All of them, from the OpenAPI document: each GET without path parameters, the event stream too."""
    document = ws["main"].ok("GET", "/openapi.json")
    gets = [path for path, item in document["paths"].items() if "get" in item and "{" not in path
            and path not in ("/health", "/openapi.json", "/docs", "/redoc") and not path.startswith("/v1")]  # fmt: skip
    assert {f"{API}/models", f"{API}/workspaces", f"{API}/events", "/metrics"} <= set(gets)
    for path in gets:
        if not path.startswith((API, "/metrics")):
            continue  # a facade's: it answers what its cloud's SDK sends
        r = ws["main"].get(path, params={"unknown": "1"})
        assert error_of(r, 400, "InvalidParameter.Query")["message"] == "Unknown query parameter 'unknown'.", path


def test_predict_takes_no_query(ws):
    r = ws["main"].post(f"{API}/models/m/predict?version=0.1.0", json={"inputs": [[1.0]]})
    body = error_of(r, 400, "InvalidParameter.Query")
    assert body["hint"] == "POST /api/v1/models/{model}/predict takes no query parameters."


def test_a_key_pasted_into_the_query_is_not_repeated_back(ws):
    key = ws["developer"].key
    for query in ({key: ""}, {"api_key": key, key: "1"}):
        r = ws["developer"].get(f"{API}/models", params=query)
        error_of(r, 400, "InvalidParameter.Query")
        assert key not in r.text and key[-8:] not in r.text
        assert r.json()["message"] == "The query has a parameter this endpoint does not take."


def test_facades_take_what_their_clouds_sdks_send(ws):
    """Lenient on purpose: an SDK may add parameters of its own (request ids, API versions)."""
    assert ws["main"].get("/v1/models", params={"api-version": "2024-06-01"}).status_code == 200


def test_after_an_internal_error_the_next_request_on_the_connection_succeeds(tmp_path: Path):
    """A 500 says `Connection: close`, so the client's next request (same client, keep-alive) goes through."""
    import sqlite3

    dep = deploy(Settings(home=tmp_path / "home"))
    try:
        api = dep.admin
        assert api.get("/health").status_code == 200  # the connection is open and kept alive
        with sqlite3.connect(tmp_path / "home" / "modeldeck.db") as db:  # a broken database: a real 500
            db.execute("ALTER TABLE grants RENAME TO grants_gone")
        broken = api.get(f"{API}/models")
        assert broken.status_code == 500 and broken.headers["connection"] == "close"
        assert broken.json()["code"] and "Traceback" not in broken.text
        for _ in range(3):
            assert api.get("/health").status_code == 200
    finally:
        dep.close()


def test_a_connection_idle_past_the_clients_keep_alive_is_still_open(shared: Deployment):
    """The server keeps an idle connection open longer than httpx keeps it (5 s): at uvicorn's default,
    also 5 s, the two race, and a request sent on a connection the server is closing gets no answer."""
    import time

    host, port = httpx.URL(shared.url).host, httpx.URL(shared.url).port
    request = f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=10) as conn:
        for pause in (0, 6):
            time.sleep(pause)  # idle past both defaults: the server must still read this connection
            conn.sendall(request)
            answer = conn.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), (pause, answer)


# ---- the platform's own keys are never registered -----------------------------------------------------


def upload(api: Api, data: bytes) -> Any:
    import hashlib

    up = api.ok("POST", f"{API}/uploads", json={"size": len(data)})
    api.ok("PATCH", f"{API}/uploads/{up['id']}", content=data, headers={"Upload-Offset": "0"})
    return api.post(f"{API}/uploads/{up['id']}/complete", json={"sha256": hashlib.sha256(data).hexdigest()})


def test_the_home_admin_key_cannot_be_registered_from_the_client(isolated_user: Path, tmp_path: Path):
    """deck.register of the home's admin.key: the import is forbidden, and the client does not fall back to
    uploading the bytes (which the server would refuse too); a copy outside the home is refused as well."""
    import modeldeck as md
    from modeldeck.errors import InvalidParameter

    home = Path(isolated_user / "home")
    with md.connect() as deck:
        key_file = home / "admin.key"
        with pytest.raises(InvalidParameter) as refused:
            deck.register("stolen", key_file, progress=False)
        assert refused.value.code == "Import.Forbidden"
        copy = tmp_path / "model.onnx"
        copy.write_bytes(key_file.read_bytes())  # outside the home: imported, then refused as a secret
        with pytest.raises(InvalidParameter) as refused:
            deck.register("stolen", copy, progress=False)
        assert refused.value.code == "Artifact.Secret"
        assert all(list(deck.versions(m.name)) == [] for m in deck.models())
    assert [p for p in (home / "blobs").rglob("*") if p.is_file()] == []  # the bytes were not kept either


def test_no_api_key_is_stored_as_a_blob(ws, shared: Deployment):
    """A developer uploading the admin key's bytes, or its own key's, gets 400 Artifact.Secret: so a viewer
    can never download it; ordinary small files still upload."""
    own = ws["developer"].headers["Authorization"].removeprefix("Bearer ")
    for data in (shared.admin_key.encode() + b"\n", shared.admin_key.encode(), f"  {own}\r\n".encode()):
        error_of(upload(ws["developer"], data), 400, "Artifact.Secret")
    key_file = shared.platform.settings.admin_key_file.read_bytes()
    error_of(upload(ws["developer"], key_file), 400, "Artifact.Secret")
    assert upload(ws["developer"], b"not a key at all\n").status_code == 200
    r = ws["viewer"].post(f"{API}/artifacts", json={"files": [{"path": "admin.key", "sha256": __import__(
        "hashlib").sha256(key_file).hexdigest()}]})  # fmt: skip
    assert r.status_code in (400, 403), r.text


# ---- Listing.first(n) fetches no page beyond what it returns ------------------------------------------


class CountingProxy(BaseHTTPRequestHandler):
    """Forwards GETs to the platform and records the path and query of each: what the client asked."""

    target = ""
    asked: list[str]

    def do_GET(self) -> None:  # noqa: N802
        import httpx

        self.asked.append(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream = httpx.get(self.target + self.path, headers=headers)
        self.send_response(upstream.status_code)
        for key in ("content-type", "x-request-id"):
            if key in upstream.headers:
                self.send_header(key, upstream.headers[key])
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def many(shared: Deployment) -> Iterator[str]:
    """A model of 120 versions, 0.1.0 to 0.120.0."""
    shared.admin.ok("POST", f"{API}/models", json={"model_name": "many"})
    for i in range(120):
        shared.admin.ok("POST", f"{API}/models/many/versions", json={"uri": f"oss://b/{i}"})
    yield "many"
    shared.admin.ok("DELETE", f"{API}/models/many")


@pytest.mark.parametrize(("n", "pages"), [(1, 1), (10, 1), (50, 1), (100, 1), (120, 1), (0, 0)])
def test_first_fetches_only_the_pages_it_returns(shared: Deployment, many: str, n: int, pages: int):
    """first(n) asks for one page of n (the server's page is 50) and stops when it has n."""
    import modeldeck as md

    name = many
    asked: list[str] = []
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), type("P", (CountingProxy,), {"target": shared.url, "asked": asked}))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        with md.connect(url=f"http://127.0.0.1:{proxy.server_address[1]}", api_key=shared.admin_key) as deck:
            asked.clear()
            got = deck.versions(name).first(n)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert [v.version_name for v in got] == [f"0.{120 - i}.0" for i in range(n)]
    listed = [a for a in asked if "/versions" in a]
    assert len(listed) == pages, asked
    if n:
        assert f"limit={n}" in listed[0]
