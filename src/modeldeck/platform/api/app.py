"""The platform's ASGI app: the native API with each facade mounted at its prefix, the hot lanes in front,
a request id on every response, JSON errors that never leak.

```
RequestId -> ObjectStores (OSS / OBS signed requests) -> BodyLimit -> Roots (facades' root paths) -> Lanes (POST routes
of facades) -> ListingLane -> PredictLane -> native FastAPI app
                                                                             |- /api/v1/...  native routes
                                                                             |- /v1          openai facade
```
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ... import __version__
from ...errors import DeckError, PayloadTooLarge
from .. import fastpath, listings
from ..authn import AccessKeySignatures, Authentication, BearerKeys
from ..context import Services
from . import errors, routes_accounts, routes_artifacts, routes_credentials, routes_models, routes_tasks
from . import routes_deployments, routes_events, routes_ops, routes_workspaces, serialize
from ..metrics import Observe
from .openapi import complete_document
from .routing import check_query
from .bodies import PredictRequest
from .facades import FACADES, Facade, check_prefixes
from .facades import objects
from .facades.base import Lane


def create_app(platform: Services, facades: Sequence[Facade] = FACADES) -> ASGIApp:
    """The platform's ASGI app: request ids and body limits around the fast lanes, the native app and the
    facades mounted in it."""
    check_prefixes(facades)
    app = _native_app(platform, facades)
    lanes: dict[str, tuple[FastAPI, Lane]] = {}
    for facade in facades:
        sub = facade.build(platform)
        app.mount(facade.prefix, sub)
        lanes.update({facade.prefix + path: (sub, lane) for path, lane in facade.lanes.items()})
    roots = [(re.compile(pattern), facade.prefix) for facade in facades for pattern in facade.roots]
    lanes_app = Lanes(ListingLane(PredictLane(app), app), lanes)
    inner = BodyLimit(Roots(lanes_app, roots) if roots else lanes_app, limit=platform.settings.max_json_body)
    return RequestId(Observe(objects.mount(inner, platform), platform.metrics))  # object stores: by signature


def _native_app(platform: Services, facades: Sequence[Facade]) -> FastAPI:
    app = FastAPI(
        title="modeldeck platform",
        version=__version__,
        description="Workspaces, authorized models, model versions, artifacts and predict.",
        default_response_class=serialize.Json,
    )
    app.state.platform = platform
    app.state.facades = tuple(facades)
    app.state.authentication = Authentication(BearerKeys(), AccessKeySignatures())
    for module in (routes_accounts, routes_workspaces, routes_models, routes_artifacts, routes_tasks,
                   routes_credentials):  # fmt: skip
        app.include_router(module.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_deployments.router)
    app.include_router(routes_events.router)
    app.openapi = _documented(app, PREDICT_DOCS)  # type: ignore[method-assign]

    @app.get("/health", tags=["health"])  # async: a balancer's probe must not queue for a worker thread
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    errors.install(app, errors.native_shape)
    return app


class PredictLane:
    """Predict requests go straight to `fastpath.predict`, past FastAPI's routing and middleware stack
    and Starlette's request and response objects (together half a small model's request time); it answers
    errors in the same JSON shape itself."""

    PATH = re.compile(r"^/api/v1/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/predict$")
    TEMPLATES = ("/api/v1/models/{model}/predict", "/api/v1/models/{model}/versions/{version}/predict")

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self.PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            return await self.app(scope, receive, send)
        scope["app"] = self.app
        scope["path_params"] = {k: v for k, v in match.groupdict().items() if v is not None}
        scope["route_template"] = self.TEMPLATES["version" in scope["path_params"]]
        try:
            if scope["query_string"]:  # predict takes none; most requests carry none, so parse only then
                given = [name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)]
                check_query(given, frozenset(), f"POST {scope['route_template']}")
            raw = await _body(receive)
            if raw is None:
                return  # the client left: nobody to answer
            answer = await fastpath.predict(self.app.state.platform, self.app.state.authentication, scope, raw)
        except DeckError as exc:
            response = errors.respond(Request(scope, receive), exc)
        except Exception as exc:
            response = await errors.unexpected(Request(scope, receive), exc)
        else:
            return await _send_json(send, answer)
        await response(scope, receive, send)


async def _send_json(send: Send, body: bytes) -> None:
    """A 200 answer with a JSON body, as raw ASGI messages."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ListingLane:
    """GET pages of models and of a model's versions go to `listings.page` as raw ASGI, past FastAPI's
    routing, dependencies and worker threads (most of a page's time); a request it does not answer
    (None: anything but a plainly allowed page) continues to the FastAPI route, which answers precisely."""

    PATH = re.compile(r"^/api/v1/models(?:/(?P<model>[^/]+)/versions)?$")
    TEMPLATES = ("/api/v1/models", "/api/v1/models/{model}/versions")

    def __init__(self, app: ASGIApp, native: FastAPI) -> None:
        self.app, self.native = app, native

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self.PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if match is None:
            return await self.app(scope, receive, send)
        try:
            answer = await listings.answer(self.native.state.platform, scope, match["model"])
        except Exception as exc:
            scope["app"] = self.native
            return await (await errors.unexpected(Request(scope, receive), exc))(scope, receive, send)
        if answer is None:
            return await self.app(scope, receive, send)
        scope["route_template"] = self.TEMPLATES[match["model"] is not None]
        await _send_json(send, answer)


async def _body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class Roots:
    """Paths a facade answers at the server's root (`Facade.roots`: its SDK keeps only an endpoint's host)
    are routed under the facade's prefix; `raw_path` stays as sent, so signatures verify over it."""

    def __init__(self, app: ASGIApp, roots: list[tuple[re.Pattern[str], str]]) -> None:
        self.app, self.roots = app, roots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            prefix = next((p for pattern, p in self.roots if pattern.match(scope["path"])), None)
            if prefix is not None:
                scope["path"] = prefix + scope["path"]
        await self.app(scope, receive, send)


class Lanes:
    """Hot POST routes of the facades (chat completions) go straight to their handler, past routing and
    dependency injection: the first token waits for generation only. Each runs as its own facade's app,
    so its errors take that facade's shape."""

    def __init__(self, app: ASGIApp, routes: dict[str, tuple[FastAPI, Lane]]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hit = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if hit is None:
            return await self.app(scope, receive, send)
        scope["app"] = hit[0]  # the handler finds the platform, and its error shape, in its app's state
        scope["route_template"] = scope["path"]
        request = Request(scope, receive)
        try:
            response = await hit[1](request)
        except DeckError as exc:
            response = errors.respond(request, exc)
        except Exception as exc:
            response = await errors.unexpected(request, exc)
        await response(scope, receive, send)


PREDICT_DOCS = {
    "summary": "Predict",
    "description": "Run a registered checkpoint: the newest version that was not rejected, or the one named.",
    "tags": ["models"],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    },
    "responses": {"200": {"description": "outputs by name, with dtypes and shapes", "content": {"application/json": {
        "schema": {"type": "object", "properties": {"outputs": {"type": "object"}}, "required": ["outputs"]}}}}},
}


def _documented(app: FastAPI, predict: dict[str, Any]) -> Any:
    """FastAPI's schema plus the predict routes, which it does not see."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base()
            schema.setdefault("components", {}).setdefault("schemas", {})["PredictRequest"] = (
                PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            for path, params in (("/api/v1/models/{model}/predict", ["model"]),
                                 ("/api/v1/models/{model}/versions/{version}/predict", ["model", "version"])):
                parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
                schema["paths"][path] = {"post": {**predict, "parameters": parameters}}
            app.openapi_schema = complete_document(schema)
        return app.openapi_schema

    return openapi


class RequestId:
    """Give every request an id, echoed in `X-Request-Id` and in every error body.

    Ids need to be unique, not secret: they come from a generator seeded once from the OS, which spares
    every request a system call.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._bits = random.Random(secrets.randbits(128)).getrandbits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = f"req-{self._bits(64):016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimit:
    """Refuse oversize bodies with 413 before they are parsed; upload bodies are bounded by their upload."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "PATCH" and scope["path"].startswith("/api/v1/uploads/")):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                return await self._refuse(scope, receive, send)
            return await self.app(scope, receive, send)
        # No declared length (chunked): read up to the limit, then replay the body to the app.
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await self._refuse(scope, receive, send)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(
            f"The request body is larger than {self.limit} bytes.",
            hint="Send large files through the uploads API; JSON bodies must stay small.",
        )
        error.request_id = scope.get("state", {}).get("request_id")
        body: dict[str, Any] = error.to_dict()
        await JSONResponse(body, status_code=413)(scope, receive, send)
