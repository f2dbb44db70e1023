"""Errors as JSON, in the shape of the app that answers: each app (the native API, each facade) keeps its
`error_shape` in its state, so a facade answers its protocol's error body by being that app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ...errors import DeckError, InvalidParameter

log = logging.getLogger("modeldeck.platform")

ErrorShape = Callable[[DeckError], dict[str, Any]]  # an error to its protocol's JSON body


def native_shape(error: DeckError) -> dict[str, Any]:
    return error.to_dict()


def install(app: FastAPI, shape: ErrorShape) -> None:
    """Answer every error of `app` (typed, validation, routing, unexpected) in `shape`."""
    app.state.error_shape = shape
    app.add_exception_handler(DeckError, _deck_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, unexpected)


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


def respond(request: Request, error: DeckError) -> JSONResponse:
    """The error body of the app this request reached."""
    error.request_id = request_id(request)
    headers = getattr(error, "headers", None)
    shape: ErrorShape = getattr(request.app.state, "error_shape", native_shape)
    return JSONResponse(shape(error), status_code=error.status or 500, headers=headers)


async def _deck_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeckError)
    return respond(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Name the fields that are wrong, never their values (pydantic's default echoes the input)."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
    return respond(
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
    error = DeckError(message, code=code, status=exc.status_code, hint=hint)
    error.headers = exc.headers  # type: ignore[attr-defined]  # 405 names the methods it allows (Allow)
    return respond(request, error)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    request.app.state.platform.metrics.internal_errors += 1
    log.error("internal error in %s %s (request %s)", request.method, request.url.path, request_id(request),
              exc_info=exc)  # fmt: skip
    response = respond(
        request,
        DeckError(
            "The platform hit an internal error.",
            hint="Retry; if it persists, report the request id to the platform's admin.",
        ),
    )
    # The server closes the connection after an unhandled error: say so, or a client would send its next
    # request on a connection that is going away.
    response.headers["Connection"] = "close"
    return response
