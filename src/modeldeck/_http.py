"""The transport under Deck and AsyncDeck: one pooled httpx client per profile, retries, typed errors.

Retries follow what the registry anchors got wrong: only idempotent requests (GET, HEAD, PUT, DELETE) or
writes that carry an `Idempotency-Key` are retried after they may have reached the server; a request that
never left (connection refused, connect timeout) is always safe to retry. A write whose outcome is
unknown raises `OutcomeUnknown`, so the caller re-reads instead of repeating it blindly.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

import httpx

from ._version import __version__
from .errors import ConnectionFailed, DeckError, InvalidParameter

T = TypeVar("T")
ErrorDecoder = Callable[[httpx.Response], DeckError]
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_NO_AUTH = httpx.Auth()  # a flow that sends the request as it is
_log = logging.getLogger("httpx")


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
    service: str | None = None  # another service of the provider than its main one (Settings.services)
    content: bytes | None = None  # a body that is not JSON (a form), sent as it is


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


def _retryable(call: Call) -> bool:
    return call.method in IDEMPOTENT_METHODS or "Idempotency-Key" in call.headers


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def raise_for(response: httpx.Response, error: ErrorDecoder, ok: tuple[int, ...] = ()) -> None:
    """Raise the provider's typed error for a failed response (unless its status is in `ok`)."""
    if response.is_success or response.status_code in ok:
        return
    raise error(response)


def _unreachable(url: str, exc: Exception) -> ConnectionFailed:
    return ConnectionFailed(f"Could not reach the platform at {url} ({type(exc).__name__}).")


@dataclass(frozen=True)
class Credentials:
    """A profile's named secrets: an API key, an AccessKey pair (with an optional security token), a token.

    Every repr shows which are set, never a value.
    """

    api_key: str | None = None
    access_key_id: str | None = None
    access_key_secret: str | None = None
    security_token: str | None = None
    token: str | None = None

    def names(self) -> list[str]:
        return [name for name, value in self.__dict__.items() if value]

    def __bool__(self) -> bool:
        return bool(self.names())

    def __repr__(self) -> str:
        return f"Credentials({', '.join(f'{name}=***' for name in self.names())})"


@dataclass
class Settings:
    """What a transport needs: where, who, and how patient to be."""

    url: str
    credentials: Credentials = field(default_factory=Credentials)
    workspace: str | None = None
    kind: str = "server"  # the profile kind (modeldeck.profiles.KINDS); it picks the provider
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    services: dict[str, str] = field(default_factory=dict)  # the base URLs of the provider's other services
    options: dict[str, str] = field(default_factory=dict)  # the profile's provider settings (pai_workspace, ...)

    def __repr__(self) -> str:
        return f"Settings(url={self.url!r}, kind={self.kind!r}, workspace={self.workspace!r}, {self.credentials!r})"


class Wire(Protocol):
    """What a transport takes from a provider (modeldeck.providers.base.Provider)."""

    workspace_header: str | None
    error: ErrorDecoder

    def auth(self, credentials: Credentials) -> httpx.Auth | None: ...


def client_options(settings: Settings, wire: Wire) -> dict[str, Any]:
    headers = {"User-Agent": f"modeldeck/{__version__}"}
    if settings.workspace and wire.workspace_header:
        headers[wire.workspace_header] = settings.workspace
    return {
        "base_url": settings.url,
        # Plain http (the embedded platform on loopback) needs no TLS context: skip building one.
        "verify": not settings.url.startswith("http://"),
        "auth": wire.auth(settings.credentials),
        "timeout": httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        "headers": headers,
    }


def target(settings: Settings, call: Call, base: str) -> str:
    """Where a call goes: its path under the main service (`base`, the client's base URL, ending with "/",
    joined as httpx joins them), under the other service it names, or a URL of its own (a deployment's
    endpoint)."""
    if call.service is not None:
        return service_url(settings.services, call.service) + call.path
    if call.path.startswith("/") or not httpx.URL(call.path).is_absolute_url:
        return base + call.path.lstrip("/")
    return call.path


def request_url(url: str, params: Mapping[str, Any] | None) -> httpx.URL:
    """`url` with `params` as httpx.Request makes it, parsed once per distinct pair: a deck repeats the same few
    calls, and httpx checks a URL character by character (a third of building a request)."""
    if params is None:
        return _parsed(url, None)
    try:  # each value's type in the key too: True and 1, equal as keys, are "true" and "1" in a query
        return _parsed(url, tuple((k, type(v), v) for k, v in params.items()))
    except TypeError:  # a list among the values: no key, parsed each time
        return httpx.URL(url, params=params)


@functools.lru_cache(maxsize=512)
def _parsed(url: str, params: tuple[tuple[str, type, Any], ...] | None) -> httpx.URL:
    return httpx.URL(url) if params is None else httpx.URL(url, params={k: v for k, _, v in params})


def service_url(services: Mapping[str, str], name: str) -> str:
    """The base URL of one of the provider's other services, or the error that says how to give it."""
    base = services.get(name)
    if not base:
        raise InvalidParameter(
            f"This profile says nowhere to reach the {name!r} service.",
            code="Profile.Invalid",
            hint=f"Give the profile a region, or `endpoints = {{{name} = \"https://...\"}}`.",
        )
    return base.rstrip("/")


def _request_kwargs(call: Call) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"params": call.params, "headers": call.headers}
    if call.json is not None:
        kwargs["json"] = call.json
    elif call.content is not None:
        kwargs["content"] = call.content
    return kwargs


def _next_step(
    settings: Settings, wire: Wire, call: Call, attempt: int, response: httpx.Response | None, exc: Exception | None
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
    raise_for(response, wire.error, call.ok)
    return None


class _Base:
    """What the blocking and the async transport share: the settings, and each call as an httpx request.

    `send` hands its request to the client's connection pool itself rather than through `httpx.Client.send`:
    a deck follows no redirects and sets no event hooks, and that path's per-request work (the URL merged
    with the base URL by parsing it again, the cookie jar's round trip through urllib's compatibility
    objects, the redirect and hook loop) cost a call about 0.4 ms of CPU, more than the official SDKs'
    whole client does beside the HTTP exchange (bench/bench_alibaba.py). Cookies are still kept when a
    server sets any; streams (`_stream.ChunkStream`) and uploads use the client as it is.
    """

    client: httpx.Client | httpx.AsyncClient

    def __init__(self, settings: Settings, wire: Wire) -> None:
        self.settings, self.wire = settings, wire

    def _opened(self) -> None:
        """After the client exists: what every request takes from it, worked out once."""
        self._base = str(self.client.base_url).rstrip("/") + "/"  # its path ends with "/", as httpx makes it
        self._timeout = self.client.timeout.as_dict()

    def use(self, workspace: str) -> None:
        """Send this workspace with every later request (uploads included), where the provider has a header."""
        self.settings.workspace = workspace
        if self.wire.workspace_header:
            self.client.headers[self.wire.workspace_header] = workspace

    def _request(self, call: Call) -> httpx.Request:
        """The request `client.build_request` makes of a call (base URL, the client's headers and cookies, its
        timeout), built directly."""
        client = self.client
        if client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        kwargs = _request_kwargs(call)
        kwargs["params"] = None  # in the URL
        kwargs["headers"] = headers = httpx.Headers(client.headers)
        headers.update(call.headers)
        return httpx.Request(call.method, request_url(target(self.settings, call, self._base), call.params), **kwargs,
                             cookies=client.cookies or None, extensions={"timeout": self._timeout})  # fmt: skip

    def _received(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        response.request = request
        if "set-cookie" in response.headers:
            self.client.cookies.extract_cookies(response)
        if _log.isEnabledFor(logging.INFO):  # the line httpx's client logs for each request
            _log.info('HTTP Request: %s %s "%s %d %s"', request.method, request.url, response.http_version,
                      response.status_code, response.reason_phrase)  # fmt: skip
        return response


class Transport(_Base):
    client: httpx.Client

    def __init__(self, settings: Settings, wire: Wire, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(settings, wire)
        self.client = httpx.Client(**client_options(settings, wire), transport=transport)
        self._opened()

    def send(self, call: Call) -> httpx.Response:
        for attempt in range(self.settings.retry.attempts):
            response, error = None, None
            try:
                response = self._exchange(self._request(call))
            except httpx.TransportError as exc:
                error = exc
            delay = _next_step(self.settings, self.wire, call, attempt, response, error)
            if delay is None:
                assert response is not None
                return response
            time.sleep(delay)
        raise AssertionError("the last attempt always returns or raises")

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        """The request through the provider's auth flow (which may send requests of its own first: an IAM
        token) and the connection pool; the answer read whole."""
        flow = (self.client.auth or _NO_AUTH).sync_auth_flow(request)
        try:
            request = next(flow)
            while True:
                response = self._received(request, self.client._transport_for_url(request.url).handle_request(request))
                try:
                    try:
                        request = flow.send(response)
                    except StopIteration:
                        response.read()
                        return response
                    response.read()
                except BaseException:
                    response.close()
                    raise
        finally:
            flow.close()

    def close(self) -> None:
        self.client.close()


class AsyncTransport(_Base):
    client: httpx.AsyncClient

    def __init__(self, settings: Settings, wire: Wire) -> None:
        super().__init__(settings, wire)
        self.client = httpx.AsyncClient(**client_options(settings, wire))
        self._opened()

    async def send(self, call: Call) -> httpx.Response:
        for attempt in range(self.settings.retry.attempts):
            response, error = None, None
            try:
                response = await self._exchange(self._request(call))
            except httpx.TransportError as exc:
                error = exc
            delay = _next_step(self.settings, self.wire, call, attempt, response, error)
            if delay is None:
                assert response is not None
                return response
            import asyncio  # here, not at the top: a blocking deck never needs it, and it costs an import

            await asyncio.sleep(delay)
        raise AssertionError("the last attempt always returns or raises")

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """`Transport._exchange`, awaited."""
        flow = (self.client.auth or _NO_AUTH).async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                pool = self.client._transport_for_url(request.url)
                response = self._received(request, await pool.handle_async_request(request))
                try:
                    try:
                        request = await flow.asend(response)
                    except StopAsyncIteration:
                        await response.aread()
                        return response
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
        finally:
            await flow.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()
