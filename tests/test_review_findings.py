"""Regression tests for the holes an outside security review found (issue 15), each through the HTTP API."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
