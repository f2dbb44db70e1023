"""The routers' class: routes return plain JSON-ready values, so no response model is inferred.

FastAPI would otherwise build a pydantic validator from every `-> dict[str, Any]` annotation at import
(a tenth of a second of the embedded server's cold start) and run it on every response, for nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.datastructures import DefaultPlaceholder


class Router(APIRouter):
    def add_api_route(self, path: str, endpoint: Any, *, response_model: Any = None, **kwargs: Any) -> None:
        if isinstance(response_model, DefaultPlaceholder):
            response_model = None
        super().add_api_route(path, endpoint, response_model=response_model, **kwargs)
