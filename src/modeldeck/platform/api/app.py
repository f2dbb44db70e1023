"""The FastAPI application: routes, a request id on every response, JSON errors that never leak."""

from __future__ import annotations

import logging
import random
import re
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


from ... import __version__
from ...errors import DeckError, InvalidParameter, PayloadTooLarge
from .. import fastpath
from ..core import Platform
from . import routes_accounts, routes_artifacts, routes_models, routes_openai, routes_workspaces
from . import routes_events, routes_tasks
from .bodies import PredictRequest

log = logging.getLogger("modeldeck.platform")


def create_app(platform: Platform) -> ASGIApp:
    """The platform's ASGI app: request ids and body limits around the predict fast lane and FastAPI."""
    app = _fastapi_app(platform)
    lanes = ChatLane(PredictLane(app), app)
    return RequestId(BodyLimit(lanes, limit=platform.settings.max_json_body))


def _fastapi_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="modeldeck platform",
        version=__version__,
        description="Workspaces, authorized models, model versions, artifacts and predict.",
    )
    app.state.platform = platform
    for module in (routes_accounts, routes_workspaces, routes_models, routes_artifacts, routes_openai):
        app.include_router(module.router)
    app.include_router(routes_tasks.router)
    app.include_router(routes_events.router)
    app.openapi = _documented(app, PREDICT_DOCS)  # type: ignore[method-assign]

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.add_exception_handler(DeckError, _deck_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    return app


class PredictLane:
    """Predict requests go straight to `fastpath.predict`, past FastAPI's routing and middleware stack
    and Starlette's request and response objects (together half a small model's request time); it answers
    errors in the same JSON shape itself."""

    PATH = re.compile(r"^/api/v1/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/predict$")
    HEADERS = [(b"content-type", b"application/json")]

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self.PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            return await self.app(scope, receive, send)
        scope["app"] = self.app
        scope["path_params"] = {k: v for k, v in match.groupdict().items() if v is not None}
        try:
            raw = await _body(receive)
            if raw is None:
                return  # the client left: nobody to answer
            answer = await fastpath.predict(self.app.state.platform, scope, raw)
        except DeckError as exc:
            response = _error(Request(scope, receive), exc)
        except Exception as exc:
            response = await _unexpected(Request(scope, receive), exc)
        else:
            headers = [*self.HEADERS, (b"content-length", str(len(answer)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            return await send({"type": "http.response.body", "body": answer})
        await response(scope, receive, send)


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


class ChatLane:
    """Chat completions go straight to their handler too, past FastAPI's routing and dependency injection:
    the first token waits for generation only."""

    PATH = "/v1/chat/completions"

    def __init__(self, app: ASGIApp, fastapi: FastAPI) -> None:
        self.app, self.fastapi = app, fastapi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.PATH:
            return await self.app(scope, receive, send)
        scope["app"] = self.fastapi  # the handler finds the platform in its state
        request = Request(scope, receive)
        try:
            response = await routes_openai.chat_completions(request)
        except DeckError as exc:
            response = _error(request, exc)
        except Exception as exc:
            response = await _unexpected(request, exc)
        await response(scope, receive, send)


PREDICT_DOCS = {
    "summary": "Predict",
    "description": "Run a registered checkpoint: the newest version that was not rejected, or the one named.",
    "tags": ["models"],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    },
    "responses": {"200": {"description": "outputs by name, with dtypes and shapes"}},
}


CHAT_DOCS = {
    "summary": "Chat completions",
    "description": "OpenAI's chat completion request; streamed: server-sent events ending in data: [DONE].",
    "tags": ["openai"],
    "responses": {"200": {"description": "a chat.completion, or chat.completion.chunk events"}},
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
            schema["paths"]["/v1/chat/completions"] = {"post": CHAT_DOCS}
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def _request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


def _error(request: Request, error: DeckError) -> JSONResponse:
    """The platform's error body; under /v1 the OpenAI shape, so OpenAI clients raise their usual errors."""
    error.request_id = _request_id(request)
    headers = getattr(error, "headers", None)
    body = {"error": routes_openai.openai_error(error)} if request.url.path.startswith("/v1/") else error.to_dict()
    return JSONResponse(body, status_code=error.status or 500, headers=headers)


async def _deck_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeckError)
    return _error(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Name the fields that are wrong, never their values (pydantic's default echoes the input)."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
    return _error(
        request,
        InvalidParameter(
            "The request body is not valid JSON." if malformed else "Invalid request: " + "; ".join(problems) + ".",
            code="InvalidParameter.Body" if malformed else "InvalidParameter",
            hint="Check the request against the API schema at /docs.",
        ),
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    codes = {404: ("NotFound", "Check the URL against the API schema at /docs."),
             405: ("MethodNotAllowed", "Check the HTTP method against the API schema at /docs.")}  # fmt: skip
    code, hint = codes.get(exc.status_code, ("InvalidParameter", "Check the request."))
    message = "No such endpoint." if exc.status_code == 404 else str(exc.detail)
    return _error(request, DeckError(message, code=code, status=exc.status_code, hint=hint))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error in %s %s (request %s)", request.method, request.url.path, _request_id(request),
              exc_info=exc)  # fmt: skip
    return _error(
        request,
        DeckError(
            "The platform hit an internal error.",
            hint="Retry; if it persists, report the request id to the platform's admin.",
        ),
    )


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
