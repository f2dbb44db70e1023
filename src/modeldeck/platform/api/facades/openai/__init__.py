"""The OpenAI facade: `/v1` as the official `openai` SDK expects it (base_url=<server>/v1, the API key as its
bearer, the workspace in the `X-ModelDeck-Workspace` default header), with OpenAI's error bodies."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ....._version import __version__
from ....authn import Authentication, BearerKeys
from ....context import Services
from ... import errors
from ..base import Facade
from .... import chatwire
from . import routes

CHAT_DOCS = {
    "summary": "Chat completions",
    "description": "OpenAI's chat completion request; streamed: server-sent events ending in data: [DONE].",
    "tags": ["openai"],
    "responses": {"200": {"description": "a chat.completion, or chat.completion.chunk events", "content": {
        "application/json": {"schema": {"type": "object", "required": ["choices"]}},
        "text/event-stream": {"schema": {"type": "string"}}}}},
}


def build(platform: Services) -> FastAPI:
    app = FastAPI(title="modeldeck OpenAI-compatible API", version=__version__,
                  description="Models and chat completions, as OpenAI's API.")  # fmt: skip
    app.state.platform = platform
    app.state.authentication = Authentication(BearerKeys())  # what the openai SDK can send
    app.include_router(routes.router)
    errors.install(app, lambda error: {"error": chatwire.openai_error(error)})
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base()
            schema["paths"]["/chat/completions"] = {"post": CHAT_DOCS}  # answered by its lane, unseen by FastAPI
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


FACADE = Facade("openai", "/v1", "/v1", build, lanes={"/chat/completions": routes.chat_completions})
