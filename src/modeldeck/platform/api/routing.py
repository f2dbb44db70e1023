"""The routers' class: routes return plain JSON-ready values, so no response model is inferred, and JSON
bodies are parsed by `bodies.parse_json` (depth-limited, no NaN) before FastAPI sees them.

FastAPI would otherwise build a pydantic validator from every `-> dict[str, Any]` annotation at import
(a tenth of a second of the embedded server's cold start) and run it on every response, for nothing.

The native API's routers are strict about their query: a parameter the route does not take, or one given
twice, is refused. Ignored, a misspelt filter (`?aproval_status=Pending`) would answer the unfiltered list,
and of two `limit`s a proxy and the server could each act on a different one. Facades stay lenient: they
answer what their clouds' SDKs send.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ...errors import InvalidParameter
from ..wirejson import parse_json

_NAMEABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")  # a name safe to repeat back: never a pasted key


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


class StrictQueryRoute(JsonRoute):
    """A route that refuses query parameters it does not take, and any given more than once."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        takes = _query_names(self.dependant)
        route = f"{','.join(sorted(self.methods or ()))} {self.path}"

        async def checked(request: Request) -> Response:
            check_query([name for name, _ in request.query_params.multi_items()], takes, route)
            return await handler(request)

        return checked


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route takes, its dependencies' included, by the names callers send."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


def check_query(given: list[str], takes: frozenset[str], route: str) -> None:
    """Raise unless each name given is one `route` takes, given once. Names are repeated back only when
    they look like parameter names: a key pasted in the wrong place is not echoed."""
    if len(set(given)) == len(given) and takes.issuperset(given):
        return
    unknown = sorted(set(given) - takes)
    repeated = sorted({name for name in given if given.count(name) > 1})
    if unknown:
        named = [name for name in unknown if _NAMEABLE.fullmatch(name)]
        listed = ", ".join(repr(name) for name in named)
        message = (f"Unknown query parameter{'s' if len(named) > 1 else ''} {listed}." if len(named) == len(unknown)
                   else "The query has a parameter this endpoint does not take.")  # fmt: skip
    else:
        message = f"Query parameter {', '.join(repr(name) for name in repeated)} is given more than once."
    takes_text = ", ".join(sorted(takes)) + ", each at most once" if takes else "no query parameters"
    raise InvalidParameter(message, code="InvalidParameter.Query", hint=f"{route} takes {takes_text}.")


class Router(APIRouter):
    def __init__(self, *, strict_query: bool = False, **kwargs: Any) -> None:
        super().__init__(route_class=StrictQueryRoute if strict_query else JsonRoute, **kwargs)

    def add_api_route(self, path: str, endpoint: Any, *, response_model: Any = None, **kwargs: Any) -> None:
        if isinstance(response_model, DefaultPlaceholder):
            response_model = None
        super().add_api_route(path, endpoint, response_model=response_model, **kwargs)
