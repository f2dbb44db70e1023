"""The routers' class: routes return plain JSON-ready values, so no response model is inferred, and JSON
bodies are parsed by `bodies.parse_json` (depth-limited, no NaN) before FastAPI sees them.

FastAPI would otherwise build a pydantic validator from every `-> dict[str, Any]` annotation at import
(a tenth of a second of the embedded server's cold start) and run it on every response, for nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute

from ..wirejson import parse_json


class JsonRoute(APIRoute):
    """A route whose JSON body is parsed the platform's one way; FastAPI then reads the parsed value
    (Starlette keeps it as the request's `_json`) instead of parsing again with the lenient standard parser."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def parsed_first(request: Request) -> Response:
            raw = await request.body()
            if raw:
                request._json = parse_json(raw)
            return await handler(request)

        return parsed_first


class Router(APIRouter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=JsonRoute, **kwargs)

    def add_api_route(self, path: str, endpoint: Any, *, response_model: Any = None, **kwargs: Any) -> None:
        if isinstance(response_model, DefaultPlaceholder):
            response_model = None
        super().add_api_route(path, endpoint, response_model=response_model, **kwargs)
