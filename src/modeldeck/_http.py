"""The transport under Deck and AsyncDeck: one pooled httpx client per profile, retries, typed errors.

Retries follow what the registry anchors got wrong: only idempotent requests (GET, HEAD, PUT, DELETE) or
writes that carry an `Idempotency-Key` are retried after they may have reached the server; a request that
never left (connection refused, connect timeout) is always safe to retry. A write whose outcome is
unknown raises `OutcomeUnknown`, so the caller re-reads instead of repeating it blindly.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import random
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx

from ._version import __version__
from .errors import ConnectionFailed, error_from_payload

T = TypeVar("T")
WORKSPACE_HEADER = "X-ModelDeck-Workspace"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class OutcomeUnknown(ConnectionFailed):
    """A write may or may not have reached the server; re-read before doing it again."""

    code = "ConnectionFailed.OutcomeUnknown"
    default_hint = "Check whether the change happened (list or get it) before trying again."


@dataclass(frozen=True)
class Call:
    """One request of a plan; `ok` lists error statuses the plan handles itself instead of raising."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    ok: tuple[int, ...] = ()


# A plan is a generator that yields Calls, receives their responses, and returns a result: the logic of
# every operation is written once and driven by the sync and the async transport alike.
Plan = Generator[Call, httpx.Response, T]


@dataclass
class RetryPolicy:
    attempts: int = 4
    base: float = 0.25
    cap: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Honour Retry-After (seconds or HTTP-date); otherwise exponential backoff with full jitter."""
        if response is not None and (value := response.headers.get("retry-after")):
            after = _retry_after(value)
            if after is not None:
                return min(after, self.max_retry_after)
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


def _retry_after(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class ApiKeyAuth(httpx.Auth):
    """Bearer auth whose repr never shows the key."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "ApiKeyAuth(key=***)"


def _retryable(call: Call) -> bool:
    return call.method in IDEMPOTENT_METHODS or "Idempotency-Key" in call.headers


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def raise_for(response: httpx.Response, ok: tuple[int, ...] = ()) -> None:
    """Raise the platform's typed error for a failed response (unless its status is in `ok`)."""
    if response.is_success or response.status_code in ok:
        return
    try:
        payload = response.json()
        if not isinstance(payload, dict):
            raise ValueError
    except ValueError:
        payload = {"message": f"HTTP {response.status_code} from the platform.", "code": ""}
    raise error_from_payload(response.status_code, unwrap_error(payload), response.headers.get("x-request-id"))


def unwrap_error(payload: dict[str, Any]) -> dict[str, Any]:
    """The platform's error fields, from its native body or from an OpenAI-style `{"error": {...}}`."""
    inner = payload.get("error")
    if not isinstance(inner, dict):
        return payload
    return {**inner, "message": inner.get("detail") or inner.get("message"), "code": inner.get("code") or ""}


def _unreachable(url: str, exc: Exception) -> ConnectionFailed:
    return ConnectionFailed(f"Could not reach the platform at {url} ({type(exc).__name__}).")


@dataclass
class Settings:
    """What a transport needs: where, who, and how patient to be."""

    url: str
    api_key: str | None
    workspace: str | None = None
    # "modeldeck" (a team server), "embedded" (a home's own server on this machine), or "openai": any
    # OpenAI-compatible server (no workspaces, chat and models only).
    kind: str = "modeldeck"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __repr__(self) -> str:
        return f"Settings(url={self.url!r}, workspace={self.workspace!r}, api_key=***)"

    def client_options(self) -> dict[str, Any]:
        headers = {"User-Agent": f"modeldeck/{__version__}"}
        if self.workspace:
            headers[WORKSPACE_HEADER] = self.workspace
        return {
            "base_url": self.url,
            # Plain http (the embedded platform on loopback) needs no TLS context: skip building one.
            "verify": not self.url.startswith("http://"),
            "auth": ApiKeyAuth(self.api_key) if self.api_key else None,
            "timeout": httpx.Timeout(self.read_timeout, connect=self.connect_timeout),
            "headers": headers,
        }


def _request_kwargs(call: Call) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"params": call.params, "headers": call.headers}
    if call.json is not None:
        kwargs["json"] = call.json
    return kwargs


def _next_step(
    settings: Settings, call: Call, attempt: int, response: httpx.Response | None, exc: Exception | None
) -> float | None:
    """After one attempt: the delay before retrying, or None when `response` is final (raises on errors)."""
    policy = settings.retry
    last = attempt == policy.attempts - 1
    if exc is not None:
        never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
        if never_sent or _retryable(call):
            if last:
                raise _unreachable(settings.url, exc) from None
            return policy.delay(attempt, None)
        raise OutcomeUnknown(
            f"The connection to {settings.url} broke after the request was sent ({type(exc).__name__})."
        ) from None
    assert response is not None
    if response.status_code in RETRY_STATUSES and not last and (_retryable(call) or response.status_code == 429):
        return policy.delay(attempt, response)
    raise_for(response, call.ok)
    return None


class Transport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = httpx.Client(**settings.client_options())

    def use(self, workspace: str) -> None:
        """Send this workspace with every later request (uploads included)."""
        self.settings.workspace = workspace
        self.client.headers[WORKSPACE_HEADER] = workspace

    def send(self, call: Call) -> httpx.Response:
        for attempt in range(self.settings.retry.attempts):
            response, error = None, None
            try:
                response = self.client.request(call.method, call.path, **_request_kwargs(call))
            except httpx.TransportError as exc:
                error = exc
            delay = _next_step(self.settings, call, attempt, response, error)
            if delay is None:
                assert response is not None
                return response
            time.sleep(delay)
        raise AssertionError("the last attempt always returns or raises")

    def run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                call = plan.send(self.send(call))
        except StopIteration as done:
            return done.value

    def close(self) -> None:
        self.client.close()


class AsyncTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(**settings.client_options())

    def use(self, workspace: str) -> None:
        self.settings.workspace = workspace
        self.client.headers[WORKSPACE_HEADER] = workspace

    async def send(self, call: Call) -> httpx.Response:
        for attempt in range(self.settings.retry.attempts):
            response, error = None, None
            try:
                response = await self.client.request(call.method, call.path, **_request_kwargs(call))
            except httpx.TransportError as exc:
                error = exc
            delay = _next_step(self.settings, call, attempt, response, error)
            if delay is None:
                assert response is not None
                return response
            await asyncio.sleep(delay)
        raise AssertionError("the last attempt always returns or raises")

    async def run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                call = plan.send(await self.send(call))
        except StopIteration as done:
            return done.value

    async def aclose(self) -> None:
        await self.client.aclose()
