"""Retries through a faulty gateway in front of the real platform.

The gateway forwards to the platform but can answer 503 first, or cut the connection after the platform
already handled the request (a lost response): the client must retry only what is safe, and a keyed
registration must still create exactly one version.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

import modeldeck as md
from conftest import Deployment
from modeldeck._http import OutcomeUnknown, RetryPolicy, _retry_after
from modeldeck.errors import ServerError


@dataclass
class Faults:
    """Per (method, path suffix): a queue of faults to inject, in order: '503', '429-date', 'drop'."""

    plan: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)

    def take(self, method: str, path: str) -> str | None:
        self.seen.append((method, path))
        for (m, suffix), queue in self.plan.items():
            if m == method and path.endswith(suffix) and queue:
                return queue.pop(0)
        return None


class Gateway:
    def __init__(self, upstream: str) -> None:
        self.faults = Faults()
        self.client = httpx.AsyncClient(base_url=upstream)
        app = Starlette(routes=[Route("/{path:path}", self.forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def forward(self, request: Request) -> Response:
        fault = self.faults.take(request.method, request.url.path)
        if fault == "503":
            return Response(b'{"code": "ServiceUnavailable", "message": "busy"}', status_code=503,
                            headers={"Retry-After": "0"})  # fmt: skip
        if fault == "429-date":
            when = email.utils.format_datetime(email.utils.localtime(), usegmt=True)
            return Response(b'{"code": "Throttling", "message": "slow down"}', status_code=429, headers={"Retry-After": when})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        upstream = await self.client.request(
            request.method, request.url.path, params=request.query_params, content=await request.body(), headers=headers
        )
        if fault == "drop":  # the platform did the work; the client never hears the answer

            async def cut() -> Iterator[bytes]:
                yield upstream.content[:5]
                raise ConnectionResetError("gateway dropped the response")

            return StreamingResponse(cut(), status_code=upstream.status_code,
                                     headers={"Content-Length": str(len(upstream.content))})  # fmt: skip
        return Response(upstream.content, status_code=upstream.status_code,
                        headers={k: v for k, v in upstream.headers.items() if k.lower() != "content-length"})  # fmt: skip

    def __enter__(self) -> Gateway:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        sock = self.server.servers[0].sockets[0]
        return "http://127.0.0.1:%d" % sock.getsockname()[1]


@pytest.fixture
def gateway(deployment: Deployment):
    with Gateway(deployment.url) as gw:
        yield gw


def fast(deck: md.Deck) -> md.Deck:
    deck._transport.settings.retry = RetryPolicy(attempts=4, base=0.01, cap=0.05)
    return deck


def test_a_server_that_fails_twice_then_succeeds(gateway: Gateway, deployment: Deployment):
    deck = fast(md.connect(url=gateway.url, api_key=deployment.admin_key))
    gateway.faults.plan[("GET", "/api/v1/workspaces")] = ["503", "503"]
    assert [w.name for w in deck.workspaces()] == ["default"]
    assert gateway.faults.seen.count(("GET", "/api/v1/workspaces")) == 3


def test_429_with_an_http_date_retry_after_is_honoured(gateway: Gateway, deployment: Deployment):
    deck = fast(md.connect(url=gateway.url, api_key=deployment.admin_key))
    gateway.faults.plan[("GET", "/api/v1/workspaces")] = ["429-date"]
    assert deck.workspaces()[0].name == "default"


def test_a_registration_whose_response_is_dropped_leaves_exactly_one_version(gateway: Gateway, deployment: Deployment):
    deck = fast(md.connect(url=gateway.url, api_key=deployment.admin_key))
    gateway.faults.plan[("POST", "/versions")] = ["drop"]
    v = deck.register("m", "oss://bucket/m.onnx", progress=False)
    assert v.version == "0.1.0"
    assert [x.version for x in deck.versions("m")] == ["0.1.0"]
    posts = [s for s in gateway.faults.seen if s[0] == "POST" and s[1].endswith("/versions")]
    assert len(posts) == 2  # the lost one, and the keyed retry that returned the same version


def test_unkeyed_writes_are_not_repeated_blindly(gateway: Gateway, deployment: Deployment):
    deck = fast(md.connect(url=gateway.url, api_key=deployment.admin_key))
    gateway.faults.plan[("POST", "/api/v1/models")] = ["drop"]
    with pytest.raises(OutcomeUnknown) as err:
        deck.create_model("once")
    assert "Check whether" in err.value.hint
    assert [s for s in gateway.faults.seen if s == ("POST", "/api/v1/models")] == [("POST", "/api/v1/models")]
    assert deck.model("once").name == "once"  # it did happen: re-reading tells


def test_unkeyed_writes_are_not_retried_on_503(gateway: Gateway, deployment: Deployment):
    deck = fast(md.connect(url=gateway.url, api_key=deployment.admin_key))
    gateway.faults.plan[("POST", "/api/v1/models")] = ["503"]
    with pytest.raises(ServerError):
        deck.create_model("x")
    assert gateway.faults.seen.count(("POST", "/api/v1/models")) == 1


def test_retry_after_parsing():
    assert _retry_after("3") == 3.0
    assert _retry_after("garbage") is None
    future = email.utils.format_datetime(email.utils.localtime().replace(microsecond=0), usegmt=True)
    assert 0 <= _retry_after(future) <= 1
    policy = RetryPolicy(max_retry_after=5)
    assert policy.delay(0, httpx.Response(429, headers={"Retry-After": "120"})) == 5
    assert 0 <= policy.delay(3, None) <= min(policy.cap, policy.base * 8)
